#!/usr/bin/env python3
"""Generate nimbus' C model tables (src/gen/<svc>_model.c, src/gen/models.h)
from botocore's service models.

    python3 tools/gen_models.py [--out src/gen] [--check] SERVICE...

SERVICE is botocore's data directory name ("sqs", "sts", "dynamodb", ...);
the C symbol is nb_model_<SERVICE with '-' -> '_'>.

Two models are read per service:

  * the current botocore (the one `import botocore` finds) is the truth for
    operations, shapes, members and constraints;
  * the older Debian botocore (OLD_DATA, 1.29) still carries the query/XML
    traits that services moved to the JSON protocol (SQS) have since dropped.
    Shape by shape and member by member (matched by name) those traits are
    overlaid where the current model lacks them: member locationName and
    flattened, shape flattened, list member / map key / map value
    locationName, operation output resultWrapper, and error code /
    httpStatusCode / senderFault.

The output carries no documentation text and is deterministic: shapes in
sorted-name order, members in model order, operations sorted by name.
The types are those of src/core/model.h.
"""

import argparse
import gzip
import json
import os
import re
import shutil
import sys
import tempfile

OLD_BOTOCORE = "/usr/lib/python3/dist-packages/botocore"
OLD_DATA = os.path.join(OLD_BOTOCORE, "data")

PROTOCOL_BITS = {
    "json": "NB_P_JSON",
    "query": "NB_P_QUERY",
    "rest-json": "NB_P_REST_JSON",
    "rest-xml": "NB_P_REST_XML",
    "ec2": "NB_P_EC2",
    "smithy-rpc-v2-cbor": "NB_P_CBOR",
}
# Emission order of protocol bits (matches the NB_P_* values).
PROTOCOL_ORDER = ["NB_P_JSON", "NB_P_QUERY", "NB_P_REST_JSON",
                  "NB_P_REST_XML", "NB_P_EC2", "NB_P_CBOR"]

TYPES = {
    "structure": "NB_T_STRUCTURE",
    "list": "NB_T_LIST",
    "map": "NB_T_MAP",
    "string": "NB_T_STRING",
    "integer": "NB_T_INTEGER",
    "long": "NB_T_LONG",
    "boolean": "NB_T_BOOLEAN",
    "float": "NB_T_FLOAT",
    "double": "NB_T_DOUBLE",
    "blob": "NB_T_BLOB",
    "timestamp": "NB_T_TIMESTAMP",
    "bigdecimal": "NB_T_DOUBLE",
    "biginteger": "NB_T_LONG",
}

LOCATIONS = {
    None: None,
    "header": "NB_LOC_HEADER",
    "headers": "NB_LOC_HEADERS",
    "querystring": "NB_LOC_QUERY",
    "uri": "NB_LOC_URI",
    "statusCode": "NB_LOC_STATUS",
}
# Locations whose wire name is always recorded (even when equal to the name).
WIRE_ALWAYS = {"header", "headers", "querystring", "uri"}

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def die(msg):
    sys.stderr.write("gen_models: error: %s\n" % msg)
    sys.exit(2)


def warn(msg):
    sys.stderr.write("gen_models: warning: %s\n" % msg)


# --------------------------------------------------------------------------
# Locating and loading the two botocores

def current_botocore():
    try:
        import botocore  # noqa: PLC0415
    except ImportError as e:
        die("cannot import botocore (run with the pyenv python3): %s" % e)
    data = os.path.join(os.path.dirname(botocore.__file__), "data")
    if not os.path.isdir(data):
        die("botocore data directory missing: %s" % data)
    return botocore.__version__, data


def old_botocore():
    init = os.path.join(OLD_BOTOCORE, "__init__.py")
    if not os.path.isdir(OLD_DATA) or not os.path.isfile(init):
        die("older botocore (query traits) not found at %s" % OLD_BOTOCORE)
    with open(init, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.M)
    if not m:
        die("cannot read __version__ from %s" % init)
    return m.group(1), OLD_DATA


def model_path(data, service, api_version=None):
    """Path of service-2.json(.gz) for service; the newest API version
    unless api_version is given.  None when absent."""
    sdir = os.path.join(data, service)
    if not os.path.isdir(sdir):
        return None
    versions = sorted(v for v in os.listdir(sdir)
                      if os.path.isdir(os.path.join(sdir, v)))
    if api_version is not None:
        versions = [v for v in versions if v == api_version]
    for v in reversed(versions):
        for fn in ("service-2.json", "service-2.json.gz"):
            p = os.path.join(sdir, v, fn)
            if os.path.isfile(p):
                return p
    return None


def load_json(path):
    if path.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --------------------------------------------------------------------------
# C emission helpers

def c_str(s):
    if s is None:
        return "NULL"
    out = ['"']
    for b in s.encode("utf-8"):
        c = chr(b)
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "?":
            out.append("\\?")  # no trigraphs under -std=c17
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append("\\%03o" % b)
    out.append('"')
    return "".join(out)


def c_comment(s):
    return s.replace("*/", "* /")


def c_int64(v):
    if v <= INT64_MIN:
        return "INT64_MIN"
    if v >= INT64_MAX:
        return "INT64_MAX"
    return str(v)


def int_limit(v):
    """min/max value as a clamped int, or None when not integral."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return max(INT64_MIN, min(INT64_MAX, v))
    if isinstance(v, float):
        if v != v:  # NaN
            return None
        if v >= float(INT64_MAX):
            return INT64_MAX
        if v <= float(INT64_MIN):
            return INT64_MIN
        if v.is_integer():
            return int(v)
    return None


def flags_expr(names):
    return "|".join(names) if names else None


def init(fields):
    """Designated initializer from (field, value) pairs, skipping None."""
    return "{" + ", ".join(".%s = %s" % (k, v) for k, v in fields
                           if v is not None) + "}"


def init_ml(fields):
    """Multi-line designated initializer, skipping None values."""
    return "{\n" + "".join("    .%s = %s,\n" % (k, v) for k, v in fields
                            if v is not None) + "}"


# --------------------------------------------------------------------------
# Model -> tables

class Gen:
    def __init__(self, service, cur, old, version):
        self.service = service
        self.sym = service.replace("-", "_")
        self.cur = cur
        self.old = old or {}
        self.version = version
        self.cshapes = cur.get("shapes", {})
        self.oshapes = self.old.get("shapes", {})
        self.names = sorted(self.cshapes)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.members = []   # C initializer strings
        self.json_named = set()  # structures with JSON body names
        self.shapes = []
        self.ops = []
        self.enum_arrays = {}   # tuple -> array name
        self.error_arrays = {}  # tuple -> array name

    def idx(self, name, where):
        if name not in self.index:
            die("%s: %s refers to unknown shape %r" % (self.service, where, name))
        return self.index[name]

    def old_shape(self, name, cur):
        o = self.oshapes.get(name)
        if o is None or o.get("type") != cur.get("type"):
            return {}
        return o

    def enums(self, values):
        key = tuple(values)
        if key not in self.enum_arrays:
            self.enum_arrays[key] = "enum_%d" % len(self.enum_arrays)
        return self.enum_arrays[key]

    def errors(self, idxs):
        key = tuple(idxs)
        if key not in self.error_arrays:
            self.error_arrays[key] = "errors_%d" % len(self.error_arrays)
        return self.error_arrays[key]

    # One member record.  ref is the current member/key/value dict, oref the
    # older one (or {}).
    def member(self, name, ref, oref, owner, required=False, payload=False,
               list_elem=False):
        target = ref.get("shape")
        if target is None:
            die("%s: %s.%s has no shape" % (self.service, owner, name))
        loc = ref.get("location")
        if loc not in LOCATIONS:
            die("%s: %s.%s: unknown location %r" % (self.service, owner, name, loc))
        ln = ref.get("locationName")
        if ln is None:
            ln = oref.get("locationName")
        if ln is None and target in self.cshapes:
            # A shape-level locationName (e.g. SQS TagMap: "Tag") applies
            # where the member names none, as botocore's serializers do.
            ln = self.cshapes[target].get("locationName")
            if ln is None:
                ln = self.old_shape(target, self.cshapes[target]).get("locationName")
        if list_elem:
            wire = ln
        elif loc in WIRE_ALWAYS:
            wire = ln
        else:
            wire = ln if ln is not None and ln != name else None
        fl = []
        if required:
            fl.append("NB_M_REQUIRED")
        if ref.get("flattened", oref.get("flattened", False)):
            fl.append("NB_M_FLATTENED")
        if ref.get("xmlAttribute"):
            fl.append("NB_M_XMLATTR")
        if ref.get("idempotencyToken"):
            fl.append("NB_M_IDEMPOTENCY")
        if payload:
            fl.append("NB_M_PAYLOAD")
        if ref.get("hostLabel"):
            fl.append("NB_M_HOSTLABEL")
        if ref.get("jsonvalue"):
            fl.append("NB_M_JSONVALUE")
        if "timestampFormat" in ref:
            warn("%s: %s.%s: member-level timestampFormat %r not representable"
                 % (self.service, owner, name, ref["timestampFormat"]))
        # The JSON body name: the current model's own locationName of a body
        # member (API Gateway's lowerCamel names), never an overlaid one
        # (SQS's query names), and only for the JSON protocols.
        json_name = None
        if loc is None and not list_elem and self.json_protocol():
            jn = ref.get("locationName")
            if jn is not None and jn != name:
                json_name = jn
                self.json_named.add(owner)
        ti = self.idx(target, "%s.%s" % (owner, name))
        self.members.append("%s, /* %d -> %s */" % (init([
            ("name", c_str(name)),
            ("wire", c_str(wire) if wire is not None else None),
            ("query", c_str(ref["queryName"]) if "queryName" in ref else None),
            ("json", c_str(json_name) if json_name is not None else None),
            ("shape", str(ti)),
            ("location", LOCATIONS[loc]),
            ("flags", flags_expr(fl)),
        ]), len(self.members), c_comment(target)))

    def shape(self, name):
        s = self.cshapes[name]
        o = self.old_shape(name, s)
        t = s.get("type")
        if t not in TYPES:
            die("%s: shape %s: unknown type %r" % (self.service, name, t))
        first = len(self.members)
        count = 0
        if t == "structure":
            required = set(s.get("required", []))
            payload = s.get("payload")
            mems = s.get("members", {})
            if payload is not None and payload not in mems:
                die("%s: %s: payload %r is not a member" % (self.service, name, payload))
            unknown = required - set(mems)
            if unknown:
                die("%s: %s: required non-members %s" % (self.service, name, sorted(unknown)))
            omems = o.get("members", {})
            for mn, mref in mems.items():
                self.member(mn, mref, omems.get(mn, {}), name,
                            required=mn in required, payload=mn == payload)
            count = len(mems)
        elif t == "list":
            self.member("member", s["member"], o.get("member", {}), name,
                        list_elem=True)
            count = 1
        elif t == "map":
            self.member("key", s["key"], o.get("key", {}), name, list_elem=True)
            self.member("value", s["value"], o.get("value", {}), name,
                        list_elem=True)
            count = 2
        fl = []
        if s.get("flattened", o.get("flattened", False)):
            fl.append("NB_S_FLATTENED")
        if s.get("exception"):
            fl.append("NB_S_EXCEPTION")
        err = s.get("error", {})
        oerr = o.get("error", {})
        if err.get("senderFault", oerr.get("senderFault", False)):
            fl.append("NB_S_SENDER_FAULT")
        lo = int_limit(s["min"]) if "min" in s else None
        hi = int_limit(s["max"]) if "max" in s else None
        if lo is not None:
            fl.append("NB_S_HAS_MIN")
        if hi is not None:
            fl.append("NB_S_HAS_MAX")
        if s.get("sensitive"):
            fl.append("NB_S_SENSITIVE")
        if s.get("document"):
            fl.append("NB_S_DOCUMENT")
        if s.get("streaming"):
            fl.append("NB_S_STREAMING")
        if name in self.json_named:
            fl.append("NB_S_JSON_NAMES")
        if len(fl) > 16:
            die("flags overflow")
        enums = s.get("enum")
        if enums is not None and not enums:
            enums = None
        if enums is not None:
            count = len(enums)
        if count > 0xFFFF:
            die("%s: %s: too many members/values (%d)" % (self.service, name, count))
        status = err.get("httpStatusCode", oerr.get("httpStatusCode"))
        code = err.get("code", oerr.get("code"))
        self.shapes.append("%s, /* %d */" % (init([
            ("name", c_str(name)),
            ("type", TYPES[t]),
            ("flags", flags_expr(fl)),
            ("count", str(count) if count else None),
            ("first", str(first) if count and t in ("structure", "list", "map") else None),
            ("min", c_int64(lo) if lo is not None else None),
            ("max", c_int64(hi) if hi is not None else None),
            ("enums", self.enums(enums) if enums is not None else None),
            ("nenums", str(len(enums)) if enums is not None else None),
            ("http_status", str(int(status)) if status else None),
            ("error_code", c_str(code) if code is not None else None),
            ("timestamp_format", c_str(s["timestampFormat"]) if "timestampFormat" in s else None),
            ("pattern", c_str(s["pattern"]) if t == "string" and "pattern" in s else None),
        ]), self.index[name]))

    def json_protocol(self):
        meta = self.cur.get("metadata", {})
        names = list(meta.get("protocols") or [meta.get("protocol")])
        return any(p in ("json", "rest-json") for p in names)

    def protocols(self):
        meta = self.cur.get("metadata", {})
        names = list(meta.get("protocols") or [meta.get("protocol")])
        ometa = self.old.get("metadata", {})
        if ometa:
            names += list(ometa.get("protocols") or [ometa.get("protocol")])
        bits = set()
        for p in names:
            if p is None:
                continue
            if p not in PROTOCOL_BITS:
                die("%s: unknown protocol %r" % (self.service, p))
            bits.add(PROTOCOL_BITS[p])
        if "awsQueryCompatible" in meta:
            bits.add("NB_P_QUERY")
        if not bits:
            die("%s: no protocol in metadata" % self.service)
        return [b for b in PROTOCOL_ORDER if b in bits]

    def operation(self, name, query):
        op = self.cur["operations"][name]
        oop = self.old.get("operations", {}).get(name, {})
        http = op.get("http", {})
        inp = op.get("input", {}).get("shape")
        out = op.get("output", {}).get("shape")
        rw = op.get("output", {}).get("resultWrapper")
        if rw is None:
            rw = oop.get("output", {}).get("resultWrapper")
        if rw is None and query:
            rw = name + "Result"
        errs = [self.idx(e["shape"], "%s errors" % name) for e in op.get("errors", [])]
        status = http.get("responseCode")
        self.ops.append(init([
            ("name", c_str(name)),
            ("method", c_str(http.get("method", "POST"))),
            ("uri", c_str(http.get("requestUri", "/"))),
            ("input", str(self.idx(inp, name + " input")) if inp else "-1"),
            ("output", str(self.idx(out, name + " output")) if out else "-1"),
            ("result_wrapper", c_str(rw) if rw is not None else None),
            ("http_status", str(int(status)) if status else None),
            ("errors", self.errors(errs) if errs else None),
            ("nerrors", str(len(errs)) if errs else None),
        ]) + ",")
        if len(errs) > 0xFFFF:
            die("too many errors")

    def render(self, header):
        for n in self.names:
            self.shape(n)
        protos = self.protocols()
        query = "NB_P_QUERY" in protos
        for n in sorted(self.cur.get("operations", {})):
            self.op_name_check(n)
            self.operation(n, query)
        meta = self.cur.get("metadata", {})
        ometa = self.old.get("metadata", {})
        xmlns = meta.get("xmlNamespace", ometa.get("xmlNamespace"))

        L = [header, "/* service %s, API %s */" % (c_comment(self.service),
                                                   c_comment(meta.get("apiVersion", "?"))),
             "#include \"core/model.h\"", "#include \"gen/models.h\"", ""]
        for values, arr in self.enum_arrays.items():
            L.append("static const char *const %s[] = {%s};"
                     % (arr, ", ".join(c_str(v) for v in values)))
        if self.enum_arrays:
            L.append("")
        for idxs, arr in self.error_arrays.items():
            L.append("static const uint32_t %s[] = {%s};"
                     % (arr, ", ".join(str(i) for i in idxs)))
        if self.error_arrays:
            L.append("")
        if self.members:
            L.append("static const nb_member members[] = {")
            L += ["    " + m for m in self.members]
            L += ["};", ""]
        if self.shapes:
            L.append("static const nb_shape shapes[] = {")
            L += ["    " + s for s in self.shapes]
            L += ["};", ""]
        if self.ops:
            L.append("static const nb_operation ops[] = {")
            L += ["    " + o for o in self.ops]
            L += ["};", ""]
        L.append("const nb_model nb_model_%s = %s;" % (self.sym, init_ml([
            ("service_id", c_str(meta.get("serviceId"))),
            ("endpoint_prefix", c_str(meta.get("endpointPrefix"))),
            ("signing_name", c_str(meta.get("signingName", meta.get("endpointPrefix")))),
            ("target_prefix", c_str(meta["targetPrefix"]) if "targetPrefix" in meta else None),
            ("json_version", c_str(meta["jsonVersion"]) if "jsonVersion" in meta else None),
            ("xml_namespace", c_str(xmlns) if xmlns is not None else None),
            ("api_version", c_str(meta.get("apiVersion"))),
            ("botocore_version", c_str(self.version)),
            ("protocols", "|".join(protos)),
            ("query_compatible", "1" if "awsQueryCompatible" in meta else None),
            ("shapes", "shapes" if self.shapes else None),
            ("nshapes", str(len(self.shapes))),
            ("members", "members" if self.members else None),
            ("nmembers", str(len(self.members))),
            ("ops", "ops" if self.ops else None),
            ("nops", str(len(self.ops))),
        ])))
        return "\n".join(L) + "\n"

    def op_name_check(self, name):
        if "\0" in name:
            die("%s: NUL in operation name" % self.service)


# --------------------------------------------------------------------------

def banner(versions):
    return "/* generated by tools/gen_models.py from botocore %s \u2014 do not edit */" % versions


def generate(services, outdir):
    cur_ver, cur_data = current_botocore()
    old_ver, old_data = old_botocore()
    files = {}
    syms = []
    used_old = False
    for svc in services:
        cpath = model_path(cur_data, svc)
        if cpath is None:
            die("no service-2.json for %r in %s" % (svc, cur_data))
        cur = load_json(cpath)
        api = cur.get("metadata", {}).get("apiVersion") or os.path.basename(os.path.dirname(cpath))
        opath = model_path(old_data, svc, os.path.basename(os.path.dirname(cpath)))
        old = None
        version = cur_ver
        if opath is None:
            warn("%s %s: not in botocore %s; no query-trait overlay" % (svc, api, old_ver))
        else:
            old = load_json(opath)
            version = "%s (+query traits from %s)" % (cur_ver, old_ver)
            used_old = True
        g = Gen(svc, cur, old, version)
        sym = g.sym
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", sym):
            die("bad service name %r" % svc)
        files["%s_model.c" % sym] = g.render(banner(version))
        syms.append(sym)
    allver = "%s (+query traits from %s)" % (cur_ver, old_ver) if used_old else cur_ver
    h = [banner(allver), "#ifndef NB_GEN_MODELS_H", "#define NB_GEN_MODELS_H", "",
         "#include \"core/model.h\"", ""]
    h += ["extern const nb_model nb_model_%s;" % s for s in syms]
    h += ["", "#endif", ""]
    files["models.h"] = "\n".join(h)
    return files


def write_files(files, outdir):
    os.makedirs(outdir, exist_ok=True)
    for fn, text in sorted(files.items()):
        path = os.path.join(outdir, fn)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)


def check(files, outdir, services):
    import difflib  # noqa: PLC0415
    tmpdir = tempfile.mkdtemp(prefix="gen_models.")
    try:
        write_files(files, tmpdir)
        bad = []
        for fn in sorted(files):
            committed = os.path.join(outdir, fn)
            fresh = os.path.join(tmpdir, fn)
            if not os.path.isfile(committed):
                bad.append("missing: %s" % committed)
                continue
            with open(committed, encoding="utf-8") as f:
                a = f.read().splitlines()
            with open(fresh, encoding="utf-8") as f:
                b = f.read().splitlines()
            if a != b:
                plus = minus = 0
                for line in difflib.unified_diff(a, b, lineterm="", n=0):
                    if line.startswith("+") and not line.startswith("+++"):
                        plus += 1
                    elif line.startswith("-") and not line.startswith("---"):
                        minus += 1
                bad.append("differs: %s (fresh output: +%d -%d lines)"
                           % (committed, plus, minus))
        if os.path.isdir(outdir):
            for fn in sorted(os.listdir(outdir)):
                if fn.endswith("_model.c") and fn not in files:
                    bad.append("stale: %s (not generated by this invocation)"
                               % os.path.join(outdir, fn))
        for b in bad:
            print("gen_models --check: " + b)
        if bad:
            print("gen_models --check: out of date; rerun tools/gen_models.py %s"
                  % " ".join(services))
            return 1
        print("gen_models --check: %d files up to date" % len(files))
        return 0
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(here), "src", "gen"),
                    help="output directory (default: src/gen of this tree)")
    ap.add_argument("--check", action="store_true",
                    help="generate into a temp dir, compare with --out, exit 1 on differences")
    ap.add_argument("services", nargs="+", metavar="SERVICE")
    a = ap.parse_args(argv)
    if len(set(a.services)) != len(a.services):
        die("duplicate service names")
    files = generate(a.services, a.out)
    if a.check:
        return check(files, a.out, a.services)
    write_files(files, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
