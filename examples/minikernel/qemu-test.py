#!/usr/bin/env python3
"""Boot minikernel in QEMU and drive it by keyboard (QEMU monitor `sendkey`).

Checks the shell commands CI relies on and prints the port-0xE9 transcript.
Usage: python3 qemu-test.py [--crash] [--transcript FILE]
Needs qemu-system-x86_64 and python3 only (the monitor is a unix socket).
"""
import argparse, os, shutil, socket, subprocess, sys, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "build")

KEYS = {" ": "spc", "\n": "ret", "\b": "backspace", "-": "minus", "=": "equal", ".": "dot",
        ",": "comma", "/": "slash", ";": "semicolon", "'": "apostrophe", "[": "bracket_left",
        "]": "bracket_right", "\\": "backslash", "`": "grave_accent"}
SHIFTED = {"!": "1", "@": "2", "#": "3", "$": "4", "%": "5", "^": "6", "&": "7", "*": "8",
           "(": "9", ")": "0", "_": "minus", "+": "equal", ":": "semicolon", '"': "apostrophe",
           "<": "comma", ">": "dot", "?": "slash", "{": "bracket_left", "}": "bracket_right",
           "|": "backslash", "~": "grave_accent"}


def key_for(ch):
    if ch.isascii() and (ch.islower() or ch.isdigit()):
        return ch
    if ch.isascii() and ch.isupper():
        return "shift-" + ch.lower()
    if ch in KEYS:
        return KEYS[ch]
    if ch in SHIFTED:
        return "shift-" + SHIFTED[ch]
    raise ValueError(f"no key for {ch!r}")


class Machine:
    def __init__(self, kernel, disk):
        os.makedirs(BUILD, exist_ok=True)
        self.sock_path = os.path.join(BUILD, "mon.sock")
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        run_disk = os.path.join(BUILD, "disk-run.img")
        shutil.copyfile(disk, run_disk)           # never modify the committed image
        cmd = ["qemu-system-x86_64", "-m", "32", "-kernel", kernel,
               "-drive", f"file={run_disk},format=raw,if=ide,index=0",
               "-debugcon", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
               "-display", "none", "-serial", "none", "-no-reboot",
               "-monitor", f"unix:{self.sock_path},server,nowait"]
        self.cmdline = " ".join(cmd)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        self.out = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._reader, daemon=True).start()
        for _ in range(100):
            try:
                self.mon = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.mon.connect(self.sock_path)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("monitor socket did not appear")
        self.mon.settimeout(0.2)

    def _reader(self):
        while True:
            b = self.proc.stdout.read1(4096)
            if not b:
                return
            with self.lock:
                self.out += b

    def text(self):
        with self.lock:
            return self.out.decode("latin-1")

    def wait_for(self, needle, count=1, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if self.text().count(needle) >= count:
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)
                return self.text().count(needle) >= count
            time.sleep(0.05)
        return False

    def sendkey(self, key):
        self.mon.sendall(f"sendkey {key}\n".encode())
        time.sleep(0.03)
        try:
            while self.mon.recv(4096):
                pass
        except (socket.timeout, BlockingIOError):
            pass

    def type(self, s):
        for ch in s:
            self.sendkey(key_for(ch))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default=os.path.join(HERE, "minikernel.elf"))
    ap.add_argument("--disk", default=os.path.join(HERE, "disk.img"))
    ap.add_argument("--crash", action="store_true", help="also check the page-fault report")
    ap.add_argument("--transcript", help="write the 0xE9 transcript here")
    args = ap.parse_args()

    m = Machine(args.kernel, args.disk)
    print("#", m.cmdline)
    failures = []
    prompts = 1

    def expect(cond, what):
        if not cond:
            failures.append(what)

    expect(m.wait_for("mini> ", prompts), "boot prompt")
    expect("minikernel booting" in m.text(), "banner")
    expect('disk: ata0 master "QEMU HARDDISK", 2048 sectors' in m.text(), "disk at boot")

    def run(line, *needles):
        nonlocal prompts
        start = len(m.text())
        m.type(line + "\n")
        prompts += 1
        ok = m.wait_for("mini> ", prompts)
        got = m.text()[start:]
        for n in needles:
            expect(n in got, f"{line!r}: expected {n!r}")
        expect(ok, f"{line!r}: prompt came back")
        return got

    run("echo hi", "echo hi\nhi\n")
    run("echo Hello, World! (a_b)", "Hello, World! (a_b)\n")
    m.type("echo abx\bc\n")                  # backspace in the line editor
    prompts += 1
    expect(m.wait_for("mini> ", prompts), "backspace line")
    expect("abx\b \bc\nabc\n" in m.text(), "backspace erases")
    run("read 1", "hello from the disk", "0000  68 65 6c 6c 6f 20 66 72  6f 6d 20 74 68 65 20 64  |hello from the d|",
        "text: hello from the disk\n")
    run("write 2 xyz", "wrote 3 bytes to sector 2\n")
    run("read 2", "text: xyz\n")
    t = run("ticks", "ticks: ")
    run("uptime", "uptime: ")
    run("disk", "QEMU HARDDISK")
    run("mem", "usable")
    run("cpuid", "vendor: ")
    run("frobnicate", "unknown command: frobnicate")
    if args.crash:
        m.type("crash\n")
        expect(m.wait_for("system halted"), "crash: halted")
        expect("EXCEPTION 14 (#PF page fault)" in m.text(), "crash: #PF reported")
        expect("cr2 0x00000000deadbeef" in m.text(), "crash: cr2")
        m.close()
        rc = m.proc.returncode
    else:
        m.type("exit 3\n")
        try:
            rc = m.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        expect(rc == 7, f"exit 3 -> QEMU exit status 7 (got {rc})")
        m.close()

    transcript = m.text()
    if args.transcript:
        with open(args.transcript, "w") as f:
            f.write(transcript)
    sys.stdout.write(transcript)
    print(f"\n# qemu exit status: {rc}")
    if failures:
        print("# FAILED:\n#   " + "\n#   ".join(failures))
        sys.exit(1)
    print("# all checks passed")


if __name__ == "__main__":
    main()
