#!/usr/bin/python3
"""Checks the registries (common/anomalies.def, app/stats.def, the
protocol and signature tables) against the sources and README.md.

  check_registries.py ROOT             check; exit 1 with a list of problems
  check_registries.py ROOT --anomaly-table   print README's anomaly table

(a) every anomaly code the C sources emit is in common/anomalies.def;
(b) README's anomaly table is the .def, and every code README names in an
    anomaly list exists in the .def;
(c) every description is non-empty and one line;
(d) README's "Run statistics" table lists exactly app/stats.def's counters;
(e) README's alert.signature_id row lists the protocol and mechanism slots
    of common/protocols.def and output/signature.c.
"""
import os
import re
import sys

SNAKE = re.compile(r'^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$')
STRLIT = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def read(root, rel):
    with open(os.path.join(root, rel), encoding='utf-8') as f:
        return f.read()


def strip_comments(src):
    # Comments go, string literals stay (a "/*" inside a string is kept).
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == '\\' else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith('/*', i):
            j = src.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(' ' + '\n' * src.count('\n', i, j))  # lines keep their numbers
            i = j
        elif src.startswith('//', i):
            j = src.find('\n', i)
            i = n if j < 0 else j
        elif c == "'":
            j = i + 1
            while j < n and src[j] != "'":
                j += 2 if src[j] == '\\' else 1
            out.append(src[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def parse_anomalies(root):
    src = strip_comments(read(root, 'common/anomalies.def'))
    rx = re.compile(r'MS_ANOMALY\(\s*([A-Z0-9_]+)\s*,\s*"([^"]*)"\s*,\s*([A-Z]+)\s*,\s*'
                    r'((?:"(?:[^"\\]|\\.)*"\s*)+)\)')
    entries = []
    for m in rx.finditer(src):
        desc = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(4))).replace('\\"', '"')
        entries.append((m.group(1), m.group(2), m.group(3).lower(), desc))
    if src.count('MS_ANOMALY(') != len(entries):
        sys.exit('check_registries: cannot parse every MS_ANOMALY entry of anomalies.def')
    return entries


def call_args(src, start):
    """The text of a call's arguments: from the '(' at start to its match."""
    depth, i = 0, start
    while i < len(src):
        c = src[i]
        if c == '"':
            i += 1
            while i < len(src) and src[i] != '"':
                i += 2 if src[i] == '\\' else 1
        elif c == '(':
            depth += 1
        elif c == ')':
            depth -= 1
            if depth == 0:
                return src[start + 1:i]
        i += 1
    return src[start + 1:]


# Functions whose string arguments are anomaly codes, besides any function
# whose name contains "anomal" (emit_anomaly, ms_emit_anomaly_once,
# set_anomaly, stream_anomaly, ...).
EMITTERS = {'xfail'}
# Literals that such calls pass that are no codes: protocol names, layers;
# and snake-case words with an anomaly-like suffix that are no codes either:
# decrypt_failed is a ms_wpa_status_name (capture/wpa.c), a stats key.
NOT_CODES = {'proto_parser', 'decrypt_failed'}
# Codes whose suffix says "anomaly" although no emitter call shows it
# (the safety net below): MIME damage codes go into email.mime_errors.
SUFFIX = re.compile(r'_(malformed|injection|too_long|too_large|gap|invalid|failed|exceeded|'
                    r'memcap|evicted|overlap\w*|bad_\w+|unterminated\w*)$')


def source_codes(root):
    """{code: [file:line, ...]} of anomaly codes in the C sources."""
    found = {}
    mime_codes = set()
    files = []
    for d in ('app', 'capture', 'common', 'dissectors', 'output'):
        for name in sorted(os.listdir(os.path.join(root, d))):
            if name.endswith(('.c', '.h')):
                files.append(os.path.join(d, name))
    for rel in files:
        src = strip_comments(read(root, rel))

        def add(code, pos):
            if SNAKE.match(code) and code not in NOT_CODES:
                line = src.count('\n', 0, pos) + 1
                found.setdefault(code, []).append('%s:%d' % (rel, line))

        for m in re.finditer(r'\b(\w*anomal\w*|%s)\s*\(' % '|'.join(EMITTERS), src):
            if re.match(r'(?:static\s+)?(?:void|bool|int|const char \*)\s*$',
                        src[max(0, m.start() - 20):m.start()].split('\n')[-1]):
                continue  # a definition, not a call
            args = call_args(src, m.end() - 1)
            for lit in STRLIT.finditer(args):
                add(lit.group(1), m.end() + lit.start())
        for m in re.finditer(r'anomaly\.code\s*=\s*"([^"]*)"', src):
            add(m.group(1), m.start())
        # Tables of codes with their texts ({ "code", "text" }).
        for m in re.finditer(r'\{\s*"([a-z0-9_]+)"\s*,\s*"[^"]*[ ][^"]*"\s*\}', src):
            add(m.group(1), m.start())
        # MIME damage codes: a designated-initialiser table of strings.
        for m in re.finditer(r'\[\s*ERR_[A-Z0-9_]+\s*\]\s*=\s*"([a-z0-9_]+)"', src):
            mime_codes.add(m.group(1))
        # Safety net: any literal with an anomaly-like suffix.
        for lit in STRLIT.finditer(src):
            if (SNAKE.match(lit.group(1)) and SUFFIX.search(lit.group(1)) and
                    lit.group(1) not in NOT_CODES):
                found.setdefault('?' + lit.group(1), []).append(
                    '%s:%d' % (rel, src.count('\n', 0, lit.start()) + 1))
    net = {k[1:]: v for k, v in found.items() if k.startswith('?')}
    codes = {k: v for k, v in found.items() if not k.startswith('?')}
    for k, v in net.items():
        if k not in codes and k not in mime_codes:
            codes[k] = v
    return codes


def anomaly_table(entries):
    rows = ['| code | type | meaning |', '|---|---|---|']
    for _, code, typ, desc in entries:
        rows.append('| `%s` | %s | %s |' % (code, typ, desc.replace('|', '\\|')))
    return '\n'.join(rows)


def readme_section(readme, title_prefix):
    i = readme.find('\n### ' + title_prefix)
    if i < 0:
        return ''
    j = readme.find('\n#', i + 5)
    return readme[i:j if j > 0 else len(readme)]


def check_anomalies(root, readme, problems):
    entries = parse_anomalies(root)
    codes = [e[1] for e in entries]
    seen = set()
    for ident, code, typ, desc in entries:
        if code in seen:
            problems.append('anomalies.def: %s listed twice' % code)
        seen.add(code)
        if ident != code.upper():
            problems.append('anomalies.def: %s: ID %s is not the code in upper case' % (code, ident))
        if typ not in ('applayer', 'stream', 'decode', 'extract'):
            problems.append('anomalies.def: %s: unknown type %s' % (code, typ))
        if not desc.strip() or '\n' in desc:
            problems.append('anomalies.def: %s: the description must be one non-empty line' % code)
    # (a) the sources
    for code, where in sorted(source_codes(root).items()):
        if code not in seen:
            problems.append('anomaly code "%s" (%s) is not in common/anomalies.def'
                            % (code, ', '.join(where[:3])))
    # (b) README: the generated table, exactly
    begin, end = '<!-- anomalies:begin -->', '<!-- anomalies:end -->'
    if begin not in readme or end not in readme:
        problems.append('README.md: no anomaly table between %s and %s' % (begin, end))
    else:
        got = readme[readme.index(begin) + len(begin):readme.index(end)].strip()
        if got != anomaly_table(entries):
            problems.append('README.md: the anomaly table differs from common/anomalies.def '
                            '(regenerate: tests/registry/check_registries.py . --anomaly-table)')
    # ... and every code named in an anomaly list elsewhere in README: the
    # text after "Anomalies:", "anomalies:" or "anomaly says why" up to the
    # end of its paragraph or bullet, and the anomaly.type row.
    for para in re.split(r'\n\s*\n|\n(?=- )|\n(?=\|)', readme):
        m = re.search(r'[Aa]nomalies:|anomaly says why|^\| `anomaly\.type`', para)
        if not m:
            continue
        for tok in re.findall(r'`([a-z0-9_]+)`', para[m.end():]):
            if SNAKE.match(tok) and tok not in seen and tok not in README_NOT_CODES:
                problems.append('README.md names anomaly "%s", which is not in '
                                'common/anomalies.def' % tok)
    for code in codes:
        if '`%s`' % code not in readme:
            problems.append('README.md never mentions anomaly `%s`' % code)


# Backticked words in README paragraphs about anomalies that are no codes.
README_NOT_CODES = {'proto_parser', 'app_proto', 'flow_id', 'community_id', 'event_type',
                    'mime_errors', 'body_bytes', 'eml_file'}


def parse_stats(root):
    src = strip_comments(read(root, 'app/stats.def'))
    names = []
    for m in re.finditer(r'MS_STAT(_DISSECTORS)?\(\s*\w+\s*,\s*"([^"]+)"\s*,\s*(SUM|MAX)', src):
        names.append((m.group(2), bool(m.group(1)), m.group(3)))
    return names


def dissector_names(root):
    src = strip_comments(read(root, 'common/protocols.def'))
    return [m.group(1) for m in re.finditer(r'MS_PROTO\(\s*\w+\s*,\s*"([a-z0-9]+)"', src)]


def check_stats(root, readme, problems):
    want = {}
    for name, per, merge in parse_stats(root):
        sec, _, rest = name.partition('.')
        if per:
            for d in dissector_names(root):
                want.setdefault(sec, []).append('%s.%s' % (rest, d))
        else:
            want.setdefault(sec, []).append(rest)
        # Peaks take the largest across workers; everything else, memory
        # in use now included (each worker holds its share), adds up.
        if merge == 'MAX' and 'peak' not in name:
            problems.append('stats.def: %s merges by MAX but is no peak' % name)
        if merge == 'SUM' and 'peak' in name:
            problems.append('stats.def: %s is a peak but merges by SUM' % name)
    sect = readme_section(readme, 'Run statistics')
    got = {}
    for m in re.finditer(r'^\| `stats\.([a-z_]+)` \| (.*) \|$', sect, re.M):
        # The counters: backticked names; parenthesised notes may hold others.
        col = re.sub(r'\([^()]*\)', '', m.group(2))
        got[m.group(1)] = re.findall(r'`([a-z0-9_.]+)`', col)
    if not got:
        problems.append('README.md: no "### Run statistics" table of stats.<section> rows')
    for sec in sorted(set(want) | set(got)):
        w, g = want.get(sec, []), got.get(sec, [])
        for x in w:
            if x not in g:
                problems.append('README.md stats.%s does not list %s' % (sec, x))
        for x in g:
            if x not in w:
                problems.append('README.md stats.%s lists %s, which app/stats.def lacks' % (sec, x))


def check_signatures(root, readme, problems):
    protos = re.findall(r'MS_PROTO\(\s*\w+\s*,\s*"([a-z0-9]+)"\s*,\s*(\d+)\s*,\s*"([^"]+)"',
                        strip_comments(read(root, 'common/protocols.def')))
    sig = strip_comments(read(root, 'output/signature.c'))
    m = re.search(r'mech_slots\[\]\s*=\s*\{(.*?)\};', sig, re.S)
    slots = re.findall(r'\{\s*"([^"]+)"\s*,\s*"([^"]+)"\s*\}', m.group(1)) if m else []
    row = re.search(r'^\| `alert\.signature_id` \|(.*)$', readme, re.M)
    if not row or not slots:
        problems.append('cannot find README alert.signature_id row or signature.c mech_slots')
        return
    text = row.group(1)
    pm = re.search(r'protocol \(([^)]*)\)', text)
    mm = re.search(r'mechanism \(([^)]*)\)', text)
    want_p = ', '.join('%s %s' % (slot, label) for _, slot, label in protos)
    if not pm or pm.group(1) != want_p:
        problems.append('README alert.signature_id: protocol slots should read "(%s)"' % want_p)
    want_m = ', '.join('%d %s' % (i + 1, label) for i, (_, label) in enumerate(slots)) + ', 99 other'
    if not mm or mm.group(1) != want_m:
        problems.append('README alert.signature_id: mechanism slots should read "(%s)"' % want_m)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else '.'
    if '--anomaly-table' in sys.argv:
        print(anomaly_table(parse_anomalies(root)))
        return 0
    readme = read(root, 'README.md')
    problems = []
    check_anomalies(root, readme, problems)
    check_stats(root, readme, problems)
    check_signatures(root, readme, problems)
    for p in problems:
        print('check_registries: ' + p)
    if problems:
        return 1
    print('check_registries: ok (%d anomaly codes, %d stats entries)'
          % (len(parse_anomalies(root)), len(parse_stats(root))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
