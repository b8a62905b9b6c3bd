#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Host-side test of tests/l1/l1tool.c: builds it natively (the same source
tests/l1/run builds for aarch64) and drives connect, listen and tty against
Python peers: steps, relay, timeouts, EOF, usage errors.
Usage: tests/l1/l1tool-test.py [BINARY]    (prints ALL OK, exit 0)"""
import os, pty, socket, subprocess, sys, tempfile, threading, time

here = os.path.dirname(os.path.abspath(__file__))
if len(sys.argv) > 1:
    T = sys.argv[1]
else:
    T = os.path.join(tempfile.mkdtemp(), 'l1tool')
    subprocess.run(['cc', '-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-o', T,
                    os.path.join(here, 'l1tool.c')], check=True)
def run(args, inp=None, t=10):
    p=subprocess.run([T]+args, input=inp, capture_output=True, timeout=t)
    return p.returncode, p.stdout, p.stderr
ok=True
def check(name, cond, info=''):
    global ok
    print(('PASS ' if cond else 'FAIL ')+name, info if not cond else '')
    ok = ok and cond

# 1. connect + steps, server appears late
path=os.path.join(tempfile.mkdtemp(), 'l1t.sock')
if os.path.exists(path): os.unlink(path)
def server_late():
    time.sleep(0.3)
    s=socket.socket(socket.AF_UNIX); s.bind(path); s.listen(1)
    c,_=s.accept(); c.sendall(b'login: ')
    d=b''
    while b'\n' not in d: d+=c.recv(100)
    c.sendall(b'you said '+d); c.close(); s.close(); os.unlink(path)
th=threading.Thread(target=server_late); th.start()
rc,out,err=run(['connect',path,'-t','5','-e','login:','-s','ping\\n','-e','said ping'])
th.join(); check('connect-steps', rc==0 and out==b'login: you said ping\n', (rc,out,err))

# 2. relay: echo server, stdin EOF -> shutdown -> server closes
if os.path.exists(path): os.unlink(path)
s=socket.socket(socket.AF_UNIX); s.bind(path); s.listen(1)
def echo():
    c,_=s.accept(); d=b''
    while True:
        x=c.recv(4096)
        if not x: break
        d+=x
    c.sendall(d.upper()); c.close()
th=threading.Thread(target=echo); th.start()
big=b'abc\n'*50000
rc,out,err=run(['connect',path,'-t','5'],inp=big)
th.join(); s.close(); os.unlink(path)
check('connect-relay', rc==0 and out==big.upper(), (rc,len(out),err))

# 3. listen
def client():
    for i in range(100):
        try:
            c=socket.socket(socket.AF_UNIX); c.connect(path); break
        except OSError: time.sleep(0.05)
    c.sendall(b'hello from client\n'); time.sleep(0.2); c.close()
th=threading.Thread(target=client); th.start()
rc,out,err=run(['listen',path,'-t','5','-q','-e','from client'])
th.join(); check('listen-expect', rc==0 and out==b'' and not os.path.exists(path), (rc,out,err))

# 4. tty
m,sl=pty.openpty(); name=os.ttyname(sl)
def ptyside():
    time.sleep(0.3); os.write(m, b'\r\nbmvm login: ')
    d=b''
    while b'root\r' not in d: d+=os.read(m,100)
    os.write(m, b'# welcome\r\n')
th=threading.Thread(target=ptyside); th.start()
rc,out,err=run(['tty',name,'-t','5','-e','login: ','-s','root\\r','-e','welcome'])
th.join(); os.close(m); os.close(sl)
check('tty-steps', rc==0 and out.endswith(b'# welcome\r\n'), (rc,out,err))

# 5. timeouts
t0=time.time(); rc,out,err=run(['connect',path+'.none','-t','0.5'])
check('connect-timeout', rc==124 and 0.4<time.time()-t0<2, (rc,err))
p2=path+'2'
rc,out,err=run(['listen',p2,'-t','0.3'])
check('listen-timeout', rc==124 and not os.path.exists(p2), (rc,err))
s=socket.socket(socket.AF_UNIX); s.bind(path); s.listen(1)
def silent():
    c,_=s.accept(); c.sendall(b'x'*100000); time.sleep(1); c.close()
th=threading.Thread(target=silent); th.start()
rc,out,err=run(['connect',path,'-t','0.5','-q','-e','never'])
th.join(); s.close(); os.unlink(path)
check('expect-timeout', rc==124 and b'timed out' in err, (rc,err))

# 6. EOF before match, pattern split across reads and window slide
s=socket.socket(socket.AF_UNIX); s.bind(path); s.listen(1)
def eof():
    c,_=s.accept(); c.sendall(b'y'*200000+b'MAR'); time.sleep(0.1); c.sendall(b'KER'); c.close()
th=threading.Thread(target=eof); th.start()
rc,out,err=run(['connect',path,'-t','3','-q','-e','MARKER','-e','more'])
th.join(); s.close(); os.unlink(path)
check('split-match-then-eof', rc==1 and b'closed before "more"' in err, (rc,err))

# 7. usage / bad escapes
for a in (['x'],['connect'],['connect','p','-e',''],['connect','p','-s','\\q'],['tty','p','-t','abc'],['connect','p','-s','\\x4']):
    rc,out,err=run(a); check('usage '+' '.join(a), rc==2, rc)
rc,out,err=run(['tty','/tmp','-t','1'])
check('tty-not-a-tty', rc==1, (rc,err))
print('ALL OK' if ok else 'SOME FAILED')
sys.exit(0 if ok else 1)
