#!/usr/bin/env python3
"""wizard-tmux.py CERTWIZ CONFIG AGENTS: drive the real wizard through a real terminal.

Starts certwiz in a tmux session of 80x24 on the sandbox's primary server, chooses the whole-CA
procedure (oss-ca), names the agents, backs up, reviews the plan, runs every step and signs each
off (typing the certname where a step is destructive), and reaches the summary. It acts only on
what is on the screen, as a person would, polling capture-pane with a timeout; it never sleeps
a fixed time waiting for a result. Exit 0 when the summary says the run completed."""
import os, re, subprocess, sys, time

certwiz, config, agents = sys.argv[1], sys.argv[2], sys.argv[3]
top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
S = "certwiz-it-%d" % os.getpid()

def tmux(*a):
    return subprocess.run(["tmux", "-L", S] + list(a), capture_output=True, text=True)

def screen():
    return tmux("capture-pane", "-p", "-t", S).stdout

def keys(*k):
    tmux("send-keys", "-t", S, *k)

def text(t):
    tmux("send-keys", "-t", S, "-l", t)

def wait_for(pattern, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        s = screen()
        if re.search(pattern, s):
            return s
        time.sleep(0.2)
    raise SystemExit("timed out waiting for %r; the screen:\n%s" % (pattern, screen()))

def hint(s):
    lines = s.rstrip("\n").split("\n")
    return lines[-1] if lines else ""

cmd = "cd %s && CERTWIZ_DATADIR=%s sandbox/exec primary -- %s --config %s --operator tmux-test; echo EXITED $? ; sleep 30" % (
    top, top, certwiz, config)
tmux("new-session", "-d", "-s", S, "-x", "80", "-y", "24", cmd)
try:
    wait_for(r"Welcome")
    keys("Enter")
    wait_for(r"What do you want to regenerate")
    keys("Down", "Down")
    wait_for(r"▸ Regenerate the CA and all certificates \(open-source")
    keys("Enter")
    wait_for(r"Discovery.*\n(.*\n)*.*checked")
    keys("Tab", "Tab")
    text(agents)
    keys("Enter")
    wait_for(r"\n Enter back up now", 120)
    keys("Enter")
    wait_for(r"Enter signs the backup off", 120)
    keys("Enter")
    wait_for(r"\n Enter plan review")
    keys("Enter")
    wait_for(r"\n PgDn/PgUp scroll  Enter to the run")
    keys("Enter")
    wait_for(r"certwiz · Run")
    signed = 0
    deadline = time.time() + 900
    while time.time() < deadline:
        s = screen()
        h = hint(s)
        m = re.search(r"Type (\S+) to go ahead", s)
        if "8 of 8" in s.split("\n")[0] and "Summary" in s.split("\n")[0]:
            break
        if m and re.search(r">\s*│", s):
            text(m.group(1)); keys("Enter")
        elif h.startswith(" Enter sign off"):
            signed += 1; keys("Enter")
        elif h.startswith(" Enter run") or h.startswith(" Enter accept") or h.startswith(" Enter mark"):
            keys("Enter")
        elif re.search(r"\br retry\b", h):
            raise SystemExit("a step failed; the screen:\n" + s)
        elif h.startswith(" Enter summary") or "Enter goes on to the summary" in s:
            keys("Enter")
        time.sleep(0.3)
        # Wait for the screen to change before acting again (the action was taken).
        end = time.time() + 600
        while time.time() < end and screen() == s:
            time.sleep(0.2)
    else:
        raise SystemExit("the run did not reach the summary; the screen:\n" + screen())
    s = wait_for(r"Completed: \d+ steps verified and signed off|The run \w+: \d+ step", 300)
    print(s)
    if not re.search(r"Completed: \d+ steps verified and signed off", s):
        raise SystemExit("the summary does not say the run completed")
    keys("Enter")
    wait_for(r"EXITED 0", 60)
    print("signed off %d steps through the terminal" % signed)
finally:
    tmux("kill-server")
