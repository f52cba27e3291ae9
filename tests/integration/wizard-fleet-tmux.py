#!/usr/bin/env python3
"""wizard-fleet-tmux.py CERTWIZ CONFIG STATE KILL_AFTER: a fleet walked through the real
wizard in a real terminal (tmux, 80x24), with its terminal lost mid-run and resumed.

Chooses the agent procedure, picks every agent from the CA's list (F2, a: all shown), backs up,
reviews the plan, and runs each fleet row with one Enter, typing the number of agents where a
row is destructive and signing each row off once. A failed agent is retried (r). After
KILL_AFTER sign-offs the tmux server is killed (the terminal is lost), and `certwiz resume
RUNDIR` is typed in a new terminal: the wizard must reopen at the run screen, and the walk
goes on there to the summary. It acts only on what is on the screen, polling capture-pane with
a timeout. Prints what it did; exit 0 when the summary says the run completed."""
import glob, os, re, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tmuxdrive import Terminal, act, certwiz_cmd, to_run_screen, finish_completed

certwiz, config, state, kill_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T = Terminal("certwiz-fleet-%d" % os.getpid())
screen, keys, text, wait_for = T.screen, T.keys, T.text, T.wait_for


def start(args):
    T.start(certwiz_cmd(top, certwiz, "%s --config %s --operator tmux-test" % (args, config)))


def walk(stop_after):
    """Run rows and sign them off; return the sign-offs made, or when stop_after is reached."""
    global retries, confirms
    signed = 0
    deadline = time.time() + 1200
    while time.time() < deadline:
        s = screen()
        if "Summary" in s.split("\n")[0]:
            return signed
        what, typed = act(T, s)
        if what == "confirm":
            if not re.fullmatch(r"\d+", typed):
                raise SystemExit("a fleet row asked for %r, not a number of agents:\n%s" % (typed, s))
            confirms.append(typed)
        elif what == "sign":
            signed += 1
            if stop_after and signed >= stop_after:
                wait_for(r"\n Enter run", 120)
                return signed
        elif what == "fleet-failed":
            if retries >= 3:
                raise SystemExit("an agent failed again after 3 retries:\n" + s)
            retries += 1
            print("retrying: " + re.sub(r"\s+", " ", s.split("\n")[-3]).strip())
            keys("r")
        elif what == "failed":
            raise SystemExit("a step failed; the screen:\n" + s)
        time.sleep(0.3)
        T.wait_change(s)
    raise SystemExit("the run did not reach the summary; the screen:\n" + screen())


retries, confirms = 0, []
before = set(glob.glob(os.path.join(state, "certwiz/runs/*-agent")))
start("")
try:
    wait_for(r"Welcome")
    keys("Enter")
    wait_for(r"▸ Regenerate agent certificates")
    keys("Enter")
    wait_for(r"Discovery.*\n(.*\n)*.*checked")
    keys("Tab", "Tab", "F2")
    s = wait_for(r"Agents from the CA's signed certificates")
    keys("a")
    s = wait_for(r"(\d+) selected of")
    print("picker: " + re.search(r"\d+ selected of \d+ signed \(\d+ shown\)", s).group(0))
    keys("Enter")
    s = wait_for(r"chosen from the CA's list")
    keys("Enter")
    to_run_screen(T)
    first_half = walk(kill_after)
    print("signed off %d rows, then the terminal was lost (tmux killed)" % first_half)
finally:
    T.kill()
time.sleep(2)
runs = sorted(set(glob.glob(os.path.join(state, "certwiz/runs/*-agent"))) - before)
if len(runs) != 1:
    raise SystemExit("expected one new run directory, found %r" % runs)
rundir = runs[0]
start("resume " + rundir)
try:
    s = wait_for(r"certwiz · Run", 180)
    s = wait_for(r"\n Enter run|\n Enter sign off|r retry", 180)
    print("resumed at the run screen:\n" + s)
    second_half = walk(0)
    finish_completed(T)
    print("rows signed off: %d before the terminal was lost, %d after the resume; %d retries; "
          "typed confirmations %s; run %s" % (first_half, second_half, retries, confirms, rundir))
finally:
    T.kill()
