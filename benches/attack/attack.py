#!/usr/bin/env python3
"""The attacks of issue #10 against one daemon binary, for before/after figures.

Usage: python3 benches/attack/attack.py PATH/TO/rollcall

Starts the daemon on fixed loopback ports (28010 HTTP, 29989 workers, 29990 Buildbot) in a
temp dir, once per group of attacks, and prints one line per attack. Attackers bind
127.0.0.2 and 127.0.0.3, the legitimate clients 127.0.0.1. Not run by CI: the assertions
live in tests/tests/e2e_hostile.rs; this prints the figures BENCHMARKS.md section 4 quotes.
"""
import socket, subprocess, sys, time, os, struct, tempfile, shutil
binary = sys.argv[1]
base = tempfile.mkdtemp()
def conf(extra=""):
    return f'''[master]
name = "atk"
data_dir = "{base}/data"
[listen]
workers = "127.0.0.1:29989"
http = "127.0.0.1:28010"
buildbot_workers = "127.0.0.1:29990"
{extra}
[[workers]]
name = "w1"
password = "pw1"
[[builders]]
name = "linux"
workernames = ["w1"]
'''
def start():
    open(f"{base}/c.toml","w").write(conf())
    p = subprocess.Popen([binary, "serve", "--config", f"{base}/c.toml"], stderr=open(f"{base}/log","a"), stdout=subprocess.DEVNULL)
    for _ in range(100):
        try: socket.create_connection(("127.0.0.1", 28010), 0.2).close(); break
        except OSError: time.sleep(0.1)
    return p
def http(req, src="127.0.0.1", timeout=5):
    s = socket.socket(); s.settimeout(timeout); s.bind((src,0)); s.connect(("127.0.0.1",28010)); s.sendall(req)
    data=b""
    try:
        while True:
            d=s.recv(65536)
            if not d: break
            data+=d
    except Exception as e: return f"<{type(e).__name__} after {len(data)} bytes>"
    return data.split(b"\r\n",1)[0].decode(errors="replace")
def health():
    t=time.time(); r=http(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=5); return f"{r} in {time.time()-t:.2f}s"
def threads(p):
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith("Threads:"): return int(l.split()[1])
def rss(p):
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1])//1024
results = []
# 1. CL bomb
p = start()
r = http(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
time.sleep(1)
results.append(f"1 CL 99999999999: answer {r!r}; daemon exit code {p.poll()}")
if p.poll() is None: p.kill(); p.wait()
shutil.rmtree(f"{base}/data", ignore_errors=True)
# 2. CL u64::MAX x4
p = start()
for _ in range(4): http(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n", timeout=2)
results.append(f"2 CL u64::MAX x4: then /healthz {health()}; alive={p.poll() is None}")
# 3. CL 5000 no body x4, held open
held=[]
for _ in range(4):
    s=socket.socket(); s.bind(("127.0.0.2",0)); s.connect(("127.0.0.1",28010)); s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"); held.append(s)
time.sleep(0.5)
results.append(f"3 CL 5000 stalled x4: /healthz {health()}")
for s in held: s.close()
p.kill(); p.wait(); shutil.rmtree(f"{base}/data", ignore_errors=True)
# 4. 200 slow connections
p = start(); time.sleep(0.5); before=threads(p)
slow=[]
for _ in range(200):
    s=socket.socket(); s.bind(("127.0.0.2",0)); s.connect(("127.0.0.1",28010)); s.sendall(b"GET / HTTP/1.1\r\n"); slow.append(s)
time.sleep(1.5)
results.append(f"4 200 slow: threads {before} -> {threads(p)}; /healthz {health()}")
time.sleep(12)
alive=0
for s in slow:
    s.setblocking(False)
    try:
        d=s.recv(100)
        if d==b"": pass
        elif d: pass
    except BlockingIOError: alive+=1
    except OSError: pass
results.append(f"4b after 13.5 s: {alive} of 200 slow connections still open")
for s in slow: s.close()
# 5. handshake flood of 1024 idle sockets on the workers port from 127.0.0.2
flood=[]
for _ in range(1100):
    s=socket.socket(); s.bind(("127.0.0.2",0))
    try: s.connect(("127.0.0.1",29989)); flood.append(s)
    except OSError: pass
time.sleep(0.5)
env=dict(os.environ, ROLLCALL_WORKER_PASSWORD="pw1")
t=time.time()
try:
    w=subprocess.Popen([binary,"worker","--connect","127.0.0.1:29989","--name","w1","--once"],env=env,stdout=subprocess.PIPE,stderr=subprocess.STDOUT,text=True)
    import threading
    lines=[]
    def reader():
        for line in w.stdout:
            lines.append(line)
            if "attached" in line: break
    th=threading.Thread(target=reader,daemon=True); th.start(); th.join(8)
    out="".join(lines) or "<nothing within 8 s>"
    w.kill()
    results.append(f"5 flood 1100 idle on workers port from 127.0.0.2: legit worker from 127.0.0.1 -> {out.strip()[:120]!r} after {time.time()-t:.1f}s")
except Exception as e:
    results.append(f"5 error {e}")
for s in flood: s.close()
# 6. 150 master sessions with 1 MiB names
p.kill(); p.wait(); shutil.rmtree(f"{base}/data", ignore_errors=True)
p = start(); time.sleep(0.5)
r0=rss(p)
masters=[]
import random
def frame(payload): return struct.pack(">I", len(payload))+payload
# Hello{protocol_version:1, role: Master{name}} in bincode standard: version byte 1, enum variant 0 (Hello) varint, u32 varint 1, Role variant 1 (Master), string len varint + bytes
name=b"m"*(1024*1024-64)
def varint(n):
    if n<251: return bytes([n])
    if n<2**16: return b"\xfb"+struct.pack("<H",n)
    if n<2**32: return b"\xfc"+struct.pack("<I",n)
    return b"\xfd"+struct.pack("<Q",n)
hello=b"\x01"+varint(0)+varint(1)+varint(1)+varint(len(name))+name
refused=0
for _ in range(150):
    s=socket.socket(); s.settimeout(5); s.bind(("127.0.0.3",0)); s.connect(("127.0.0.1",29989))
    try: s.sendall(frame(hello))
    except OSError: refused+=1
    masters.append(s)
time.sleep(1.5)
results.append(f"6 150 master Hellos with 1 MiB names: RSS {r0} -> {rss(p)} MB ({refused} cut off while sending)")
for s in masters: s.close()
p.kill(); p.wait()
print("\n".join(results))
shutil.rmtree(base, ignore_errors=True)
