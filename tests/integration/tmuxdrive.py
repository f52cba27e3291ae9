"""tmuxdrive.py: a terminal driven as a person would, for the integration tests' wizard walks:
a tmux server of its own (socket named after the test), keys sent, the screen read back."""
import os, re, subprocess, time


class Terminal:
    def __init__(self, name):
        self.name = name

    def tmux(self, *a):
        return subprocess.run(["tmux", "-L", self.name] + list(a), capture_output=True, text=True)

    def start(self, cmd, cols=80, rows=24):
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(cols), "-y", str(rows), cmd)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", self.name).stdout

    def keys(self, *k):
        self.tmux("send-keys", "-t", self.name, *k)

    def text(self, t):
        self.tmux("send-keys", "-t", self.name, "-l", t)

    def wait_for(self, pattern, timeout=60):
        """The screen once it shows pattern (polled, never a fixed sleep)."""
        end = time.time() + timeout
        while time.time() < end:
            s = self.screen()
            if re.search(pattern, s):
                return s
            time.sleep(0.2)
        raise SystemExit("timed out waiting for %r; the screen:\n%s" % (pattern, self.screen()))

    def wait_change(self, s, timeout=900):
        """Until the screen differs from s (the last action was taken)."""
        end = time.time() + timeout
        while time.time() < end and self.screen() == s:
            time.sleep(0.2)

    def kill(self):
        self.tmux("kill-server")


def hint(s):
    """The key-hint line under the frame."""
    lines = s.rstrip("\n").split("\n")
    return lines[-1] if lines else ""


def certwiz_cmd(top, certwiz, args):
    """certwiz on the sandbox's primary server, its exit code shown when it ends."""
    return "cd %s && CERTWIZ_DATADIR=%s sandbox/exec primary -- %s %s; echo EXITED $? ; sleep 30" % (
        top, top, certwiz, args)


def act(T, s):
    """What a person does on the run screen s: type the confirmation asked for, sign off, run,
    go on to the summary. Returns (what, detail): confirm (the text typed), sign, run, summary,
    fleet-failed (a fleet row with failed agents: the caller decides), failed, or None."""
    h = hint(s)
    m = re.search(r"Type (\S+) to go ahead", s)
    if m and re.search(r">\s*│", s):
        T.text(m.group(1))
        T.keys("Enter")
        return "confirm", m.group(1)
    if h.startswith(" Enter sign off"):
        T.keys("Enter")
        return "sign", None
    if h.startswith(" Enter run") or h.startswith(" Enter accept") or h.startswith(" Enter mark"):
        T.keys("Enter")
        return "run", None
    if h.startswith(" r retry failed"):
        return "fleet-failed", None
    if re.search(r"\br retry\b", h):
        return "failed", None
    if h.startswith(" Enter summary") or "Enter goes on to the summary" in s:
        T.keys("Enter")
        return "summary", None
    return None, None


def to_run_screen(T, timeout=180):
    """From the agents entered on the discovery screen to the run screen: the pre-flight
    checks, the backup and its sign-off, the plan review."""
    T.wait_for(r"\n Enter back up now", timeout)
    T.keys("Enter")
    T.wait_for(r"Enter signs the backup off", timeout)
    T.keys("Enter")
    T.wait_for(r"\n Enter plan review")
    T.keys("Enter")
    T.wait_for(r"\n PgDn/PgUp scroll  Enter to the run")
    T.keys("Enter")
    T.wait_for(r"certwiz · Run")


def finish_completed(T):
    """The summary must say the run completed; Enter leaves certwiz, which must exit 0."""
    s = T.wait_for(r"Completed: \d+ steps verified and signed off|The run \w+: \d+ step", 300)
    print(s)
    if not re.search(r"Completed: \d+ steps verified and signed off", s):
        raise SystemExit("the summary does not say the run completed")
    T.keys("Enter")
    T.wait_for(r"EXITED 0", 60)
