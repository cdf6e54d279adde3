#!/usr/bin/env python3
"""Compares `qorgau scan` output on a corpus capture with the capture's ground truth.

usage: corpus_check.py GROUND_TRUTH.json BLOCKLIST.txt SCAN_OUTPUT.jsonl

For every named TLS/HTTP/h2c/QUIC flow of the ground truth: the first decision qorgau printed for
that flow (matched by the unordered 5-tuple) must carry exactly the ground truth's `name`, and the
flow's verdict (block if any of its lines blocks) must equal the verdict of a naive reference
matcher written here over the ground truth's names and paths. Prints one line per failure and a
closing line "corpus FILE: N passed, M failed"; exits 1 on any failure."""
import ipaddress
import json
import posixpath
import re
import sys
import urllib.parse


def norm_name(raw):
    if raw is None:
        return None
    s = raw.strip()
    if s.startswith('['):
        s = s[1:s.index(']')]
    else:
        s = re.sub(r':\d+$', '', s)
    if s.endswith('.'):
        s = s[:-1]
    s = s.lower()
    try:
        s = s.encode('ascii').decode()
    except UnicodeEncodeError:
        s = s.encode('idna').decode()
    return s


def norm_path(p):
    p = (p or '/').split('#')[0]
    path, _, query = p.partition('?')
    path = urllib.parse.unquote(path)
    path = re.sub('/+', '/', path)
    path = posixpath.normpath(path) + ('/' if path.endswith('/') and path != '/' else '')
    if path.startswith('//'):
        path = path[1:]
    return path, query


class Rules:
    def __init__(self, path):
        self.domains, self.urls, self.nets = [], [], []
        for line in open(path, encoding='utf-8'):
            line = line.split('#')[0].strip()
            if not line:
                continue
            if line.startswith(('http://', 'https://')):
                u = urllib.parse.urlsplit(line)
                self.urls.append((norm_name(u.hostname), u.path or '/', u.query, u.scheme))
                continue
            try:
                self.nets.append(ipaddress.ip_network(line, strict=False))
                continue
            except ValueError:
                pass
            self.domains.append(norm_name(line))

    def domain(self, name):
        return any(name == d or name.endswith('.' + d) for d in self.domains)

    def url(self, name, path):
        if path is None:  # TLS: an https:// URL entry blocks its whole host name
            return any(h == name and sch == 'https' for h, _, _, sch in self.urls)
        p, q = norm_path(path)
        for h, ep, eq, _ in self.urls:
            if h != name:
                continue
            if ep.endswith('*'):
                if p.startswith(ep[:-1]):
                    return True
            elif p == ep and (not eq or q == eq):
                return True
        return False

    def ip(self, addr):
        a = ipaddress.ip_address(addr)
        return any(a in n for n in self.nets)

    def blocks(self, name, path, server_ip):
        if name and (self.url(name, path) or self.domain(name)):
            return True
        return self.ip(server_ip)


def endpoint(ip, port):
    return ('[%s]:%d' % (ip, port)) if ':' in ip else ('%s:%d' % (ip, port))


def main():
    truth = json.load(open(sys.argv[1]))
    rules = Rules(sys.argv[2])
    lines = {}
    for raw in open(sys.argv[3]):
        ev = json.loads(raw)
        key = frozenset((ev['src'], ev['dst'])) | {ev['proto']}
        lines.setdefault(key, []).append(ev)
    passed = failed = 0
    for fl in truth['flows']:
        if fl['proto'] not in ('tls', 'http', 'h2c', 'quic') or not fl['name']:
            continue
        key = frozenset((endpoint(fl['client_ip'], fl['client_port']),
                         endpoint(fl['server_ip'], fl['server_port']))) | {fl['l4']}
        evs = lines.get(key)
        what = '%s flow %d (%s %s)' % (truth['pcap'], fl['id'], fl['proto'], fl['name'])
        if not evs:
            print('FAIL %s: no decision printed' % what)
            failed += 1
            continue
        errs = []
        if evs[0]['name'] != fl['name']:
            errs.append('name %r, expected %r' % (evs[0]['name'], fl['name']))
        if fl['proto'] in ('tls', 'quic'):
            expect = rules.blocks(fl['name'], None, fl['server_ip'])
        else:
            reqs = fl.get('requests') or [{'host_raw': fl['host_raw'], 'path': fl['path']}]
            expect = False
            for r in reqs:
                name = norm_name(r.get('absolute_uri_host') or r.get('host_raw'))
                path = r.get('path') or '/'
                if path.startswith('http://'):
                    path = '/' + path.split('/', 3)[3] if path.count('/') >= 3 else '/'
                if rules.blocks(name, path, fl['server_ip']):
                    expect = True
                    break
        got = any(e['verdict'] == 'block' for e in evs)
        if got != expect:
            errs.append('verdict %s, expected %s' % ('block' if got else 'pass',
                                                    'block' if expect else 'pass'))
        if errs:
            print('FAIL %s: %s' % (what, '; '.join(errs)))
            failed += 1
        else:
            passed += 1
    print('corpus %s: %d passed, %d failed' % (truth['pcap'], passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
