#!/usr/bin/env python3
"""outcome.py: the per-connection outcome of a capture, read from what the programs logged.

Usage:
  tools/outcome.py build MANIFEST -o expected/<capture>.outcome.json [--alerts GO-ALERT-GO-FILE]
  tools/outcome.py check expected/<capture>.outcome.json expected/<capture>.json

build: MANIFEST is a tab-separated file written by the capture script, one line per TCP
connection in capture order:
    number <TAB> client description <TAB> client log file <TAB> server log file <TAB> server kind
where the client log is goclient's stderr for that connection, the server log holds the lines
the server (k8sserver or etcd) wrote while that connection was made, and server kind is
"k8sserver" or "etcd". It writes a JSON array, one object per connection:
    {"connection": N, "client": description,
     "handshake": "completed" | "failed",
     "alert": {"from": "server" | "client", "code": N} | null,
     "http_status": N | null,
     "server_logged": "the line" | null, "client_logged": "the line" | null}
Nothing is typed by hand: every value is read from the logs.
  - handshake: "completed" when goclient logged "goclient: handshake ok" and the server logged
    no handshake failure ("http: TLS handshake error" / etcd "rejected connection"), else "failed".
  - alert (failed handshakes only): Go logs an alert it received as "remote error: tls: TEXT";
    TEXT is turned into its code with the table of Go's own crypto/tls/alert.go (--alerts, default
    $(go env GOROOT)/src/crypto/tls/alert.go). Received by the client -> sent by the server, and
    the other way round. null when nobody logged a received alert.
  - http_status: the status code in goclient's "goclient: got \"HTTP/1.1 NNN ..." line.
  - server_logged: the server's line that tells the outcome: a klog error line ("E....") or the
    handshake-error line, else k8sserver's "request ... -> 200" line; for etcd the "rejected
    connection" line. Verbatim (whole line, without the newline).
  - client_logged: goclient's "goclient: handshake: ..." line when the handshake failed, else
    its "goclient: got ..." line (the HTTP answer as the client read it).
It also prints the --outcome arguments for tools/expected.py ("#N=completed" ...) on stdout.

check: compares an outcome file with the tshark view in expected/<capture>.json (tools/expected.py):
same number of connections; a failed connection's alert is the one plaintext fatal alert tshark
shows for it (same sender, same code), a completed one has no plaintext alert; handshake fields
agree. Exits 1 with the differences.
"""
import json
import os
import re
import subprocess
import sys


def go_alerts(path):
    src = open(path).read()
    codes = dict(re.findall(r"^\s*(alert\w+)\s+alert = (\d+)", src, re.M))
    texts = dict(re.findall(r'^\s*(alert\w+):\s*"([^"]*)",', src, re.M))
    table = {texts[k]: int(codes[k]) for k in texts if k in codes}
    if len(table) < 20:
        sys.exit("outcome.py: could not read the alert table of %s" % path)
    return table


def lines(path):
    with open(path, errors="replace") as f:
        return [l.rstrip("\n") for l in f]


def first(ls, pattern):
    for l in ls:
        if re.search(pattern, l):
            return l
    return None


def build(manifest, out, alert_file):
    table = go_alerts(alert_file)
    result = []
    for row in lines(manifest):
        if not row.strip():
            continue
        num, desc, cli_path, srv_path, kind = row.split("\t")
        cli, srv = lines(cli_path), lines(srv_path)
        cli_ok = first(cli, r"^goclient: handshake ok") is not None
        if kind == "etcd":
            srv_fail = first(srv, r"rejected connection")
        else:
            srv_fail = first(srv, r"http: TLS handshake error")
        handshake = "completed" if cli_ok and srv_fail is None else "failed"
        alert = None
        if handshake == "failed":
            for who_logged, ls, sender in (("client", cli, "server"), ("server", srv, "client")):
                l = first(ls, r"remote error: tls: ")
                if l:
                    text = re.search(r"remote error: tls: (.*?)(\"|$)", l).group(1).strip()
                    if text not in table:
                        sys.exit("outcome.py: unknown alert text %r in %s" % (text, l))
                    alert = {"from": sender, "code": table[text]}
                    break
        got = first(cli, r"^goclient: got ")
        status = None
        if got:
            m = re.match(r'^goclient: got "HTTP/1\.[01] (\d{3}) ', got)
            status = int(m.group(1)) if m else None
        if kind == "etcd":
            server_logged = srv_fail
        else:
            server_logged = (first(srv, r"^E\d{4} ") or srv_fail
                             or first(srv, r"^k8sserver\[\w+\]: request .* -> \d{3}$"))
        client_logged = first(cli, r"^goclient: handshake: ") if handshake == "failed" else got
        if handshake == "failed" and client_logged is None:
            # TLS 1.2: a client whose handshake "succeeded" cannot have failed; keep what it said last
            client_logged = cli[-1] if cli else None
        result.append({"connection": int(num), "client": desc, "handshake": handshake, "alert": alert,
                       "http_status": status, "server_logged": server_logged,
                       "client_logged": client_logged})
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(" ".join("#%d=%s" % (o["connection"], o["handshake"]) for o in result))


def check(outcome_path, expected_path):
    outcome = json.load(open(outcome_path))
    exp = json.load(open(expected_path))
    conns = exp["connections"]
    problems = []
    if len(outcome) != len(conns):
        problems.append("%d outcomes, tshark shows %d connections" % (len(outcome), len(conns)))
    for o, c in zip(outcome, conns):
        n = o["connection"]
        plain = [a for a in c["alerts"] if not a["encrypted"]]
        if c.get("handshake") != o["handshake"]:
            problems.append("#%d: expected.json handshake %s, logs %s" % (n, c.get("handshake"), o["handshake"]))
        if o["alert"] is None:
            if plain:
                problems.append("#%d: no alert in the logs, tshark shows %s" % (n, plain))
        else:
            want = [a for a in plain if a["from"] == o["alert"]["from"] and a["code"] == o["alert"]["code"]
                    and a["level"] == "fatal"]
            if len(want) != 1 or len(plain) != 1:
                problems.append("#%d: logs say alert %s, tshark shows %s" % (n, o["alert"], plain))
    if problems:
        sys.exit("outcome.py check %s:\n  %s" % (outcome_path, "\n  ".join(problems)))
    print("outcome.py: %s agrees with %s (%d connections)" % (outcome_path, expected_path, len(outcome)))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[1] == "build":
        args = argv[2:]
        out, alert_file, manifest = None, None, None
        while args:
            a = args.pop(0)
            if a == "-o":
                out = args.pop(0)
            elif a == "--alerts":
                alert_file = args.pop(0)
            else:
                manifest = a
        if not manifest or not out:
            sys.exit("usage: outcome.py build MANIFEST -o OUT [--alerts FILE]")
        if alert_file is None:
            goroot = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip()
            alert_file = os.path.join(goroot, "src", "crypto", "tls", "alert.go")
        build(manifest, out, alert_file)
    elif argv[1] == "check" and len(argv) == 4:
        check(argv[2], argv[3])
    else:
        sys.exit("usage: outcome.py build|check ... (-h)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
