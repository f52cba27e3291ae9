#!/usr/bin/env python3
"""wizard-tmux.py CERTWIZ CONFIG AGENTS: drive the real wizard through a real terminal.

Starts certwiz in a tmux session of 80x24 on the sandbox's primary server, chooses the whole-CA
procedure (oss-ca), names the agents, backs up, reviews the plan, runs every step and signs each
off (typing the certname where a step is destructive), and reaches the summary. It acts only on
what is on the screen, as a person would, polling capture-pane with a timeout; it never sleeps
a fixed time waiting for a result. Exit 0 when the summary says the run completed."""
import os, re, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tmuxdrive import Terminal, act, certwiz_cmd, to_run_screen, finish_completed

certwiz, config, agents = sys.argv[1], sys.argv[2], sys.argv[3]
top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T = Terminal("certwiz-it-%d" % os.getpid())
screen, keys, text, wait_for = T.screen, T.keys, T.text, T.wait_for

T.start(certwiz_cmd(top, certwiz, "--config %s --operator tmux-test" % config))
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
    to_run_screen(T, 120)
    signed = 0
    deadline = time.time() + 900
    while time.time() < deadline:
        s = screen()
        if "8 of 8" in s.split("\n")[0] and "Summary" in s.split("\n")[0]:
            break
        what, _ = act(T, s)
        if what == "sign":
            signed += 1
        elif what in ("failed", "fleet-failed"):
            raise SystemExit("a step failed; the screen:\n" + s)
        time.sleep(0.3)
        # Wait for the screen to change before acting again (the action was taken).
        T.wait_change(s, 600)
    else:
        raise SystemExit("the run did not reach the summary; the screen:\n" + screen())
    finish_completed(T)
    print("signed off %d steps through the terminal" % signed)
finally:
    T.kill()
