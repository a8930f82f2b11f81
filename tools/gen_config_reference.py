#!/usr/bin/env python3
"""Generates docs/config_reference.md, the recipe reference, from the typed
config structs, so the reference cannot drift from what the loader reads.

    .venv/bin/python tools/gen_config_reference.py docs/config_reference.md
    .venv/bin/python tools/gen_config_reference.py --check docs/config_reference.md

Reads the structs and enums of include/opd/train/train_config.h and
include/opd/objectives/objective_config.h (field, C++ type, initialiser, the
trailing `//` comment and the comment lines directly above), maps each field
to the YAML key a recipe writes (the field name, or ALIASES below), and fails
when a field has no YAML key, when src/train/config_loader.cpp does not mention
that key or accepts a key no field maps to, or when a recipe under
configs/methods/ or configs/smoke/ uses a key the reference does not list.
The objectives table comes from objective_option_keys and
default_objective_config (src/objectives/*.cpp).

Without --check, writes OUT.md. With --check, writes nothing and exits 1 with
a unified diff when OUT.md differs from what would be written. Errors exit 2.
--root points at another source tree (tests of this script).
"""
import argparse
import difflib
import glob
import os
import re
import sys

HEADERS = ["include/opd/train/train_config.h", "include/opd/objectives/objective_config.h"]
LOADER = "src/train/config_loader.cpp"
OBJECTIVES_GLOB = "src/objectives/*.cpp"
RECIPE_GLOBS = ["configs/methods/*.yaml", "configs/smoke/*.yaml"]
SCRIPT = "tools/gen_config_reference.py"

# Fields whose YAML key is not the field name: (struct, field) -> key in its block.
ALIASES = {
    ("DataConfig", "train_path"): "train",
    ("OptimConfig", "beta1"): "betas",  # betas: [beta1, beta2]
    ("OptimConfig", "beta2"): "betas",
    ("ObjectiveConfig", "kind"): "name",
    ("ObjectiveConfig", "sft_targets"): "targets",
}
# Keys of the `objective` block that every objective accepts (the loader's
# objective_keys() starts with these); all other keys come from objective_option_keys.
OBJECTIVE_COMMON_KEYS = ["name", "normalization"]
# An entry of objective.terms may not set these (read_objective refuses them in a term).
TERM_REFUSED_KEYS = {"normalization"}
# Enums whose values get their own table instead of a list in the meaning column.
ENUMS_WITH_OWN_TABLE = {"ObjectiveKind"}

SCALAR_TYPES = {
    "std::string": "string",
    "int64_t": "integer",
    "uint64_t": "integer >= 0",
    "double": "number",
    "bool": "bool",
    "std::vector<std::string>": "list of strings",
}


class ConfigError(Exception):
    pass


def split_code_comment(line):
    """(code, comment) of one line; comment is None without `//`."""
    quoted = False
    i = 0
    while i < len(line):
        c = line[i]
        if quoted:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif line.startswith("//", i):
            return line[:i].rstrip(), line[i + 2:].strip()
        i += 1
    return line.rstrip(), None


def split_top_level(text, sep=","):
    """Splits on `sep` outside quotes and (), {}, <> nesting."""
    parts, depth, quoted, cur = [], 0, False, []
    for c in text:
        if quoted:
            quoted = c != '"'
        elif c == '"':
            quoted = True
        elif c in "({<":
            depth += 1
        elif c in ")}>":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(c)
    parts.append("".join(cur).strip())
    return parts


class Field:
    def __init__(self, struct, name, ctype, init, trailing, above, where):
        self.struct = struct
        self.name = name
        self.ctype = ctype
        self.init = init  # C++ initialiser text, or None
        self.trailing = trailing or ""
        self.above = above  # comment lines directly above
        self.where = where
        self.lead = None  # the Field heading this one's comment block, if it follows it
        self.group_note = ""  # that block's text


class Struct:
    def __init__(self, name, doc, where):
        self.name = name
        self.doc = doc
        self.where = where
        self.fields = []


class Enum:
    def __init__(self, name, doc, where):
        self.name = name
        self.doc = doc
        self.where = where
        self.values = []  # (constant, comment)


def parse_declaration(code, where):
    """`std::string a = "x", b;` -> (type, [(name, init or None)])."""
    m = re.match(r"\s*((?:const\s+)?[A-Za-z_][\w:]*)", code)
    if not m:
        raise ConfigError(f"{where}: cannot read a member declaration from: {code.strip()}")
    ctype, i = m.group(1), m.end()
    if i < len(code) and code[i] == "<":
        depth = 0
        for j in range(i, len(code)):
            depth += {"<": 1, ">": -1}.get(code[j], 0)
            if depth == 0:
                ctype += re.sub(r"\s+", " ", code[i:j + 1]).replace("< ", "<").replace(" >", ">")
                i = j + 1
                break
        else:
            raise ConfigError(f"{where}: unbalanced <> in: {code.strip()}")
    decls = []
    for part in split_top_level(code[i:]):
        d = re.fullmatch(r"([A-Za-z_]\w*)\s*(?:=\s*(.+)|(\{.*\}))?", part, re.S)
        if not d:
            raise ConfigError(f"{where}: cannot read a member declaration from: {code.strip()}")
        init = d.group(2) if d.group(2) is not None else d.group(3)
        decls.append((d.group(1), init.strip() if init else None))
    return ctype, decls


def parse_header(rel, text):
    """Structs and enums of one header, with their comments."""
    structs, enums = {}, {}
    lines = text.splitlines()
    pending = []  # comment lines directly above the current line
    i = 0
    while i < len(lines):
        code, comment = split_code_comment(lines[i])
        s = code.strip()
        where = f"{rel}:{i + 1}"
        if not s:
            pending = pending + [comment] if comment is not None else []
            i += 1
            continue
        m = re.match(r"enum class (\w+)(?:\s*:\s*[\w:]+)?\s*\{(.*)$", s)
        if m:
            e = Enum(m.group(1), " ".join(pending), where)
            body, c = m.group(2), comment
            while True:
                done = "}" in body
                consts = re.findall(r"\bk\w+", body.split("}")[0])
                for k in consts:
                    e.values.append((k, c if len(consts) == 1 and c else ""))
                if done:
                    break
                i += 1
                if i >= len(lines):
                    raise ConfigError(f"{where}: enum {e.name} is not closed")
                body, c = split_code_comment(lines[i])
            enums[e.name] = e
            pending = []
            i += 1
            continue
        m = re.match(r"struct (\w+)\s*\{$", s)
        if m:
            st = Struct(m.group(1), " ".join(pending), where)
            pending, lead = [], None
            i += 1
            while True:
                if i >= len(lines):
                    raise ConfigError(f"{where}: struct {st.name} is not closed")
                code, comment = split_code_comment(lines[i])
                s = code.strip()
                fwhere = f"{rel}:{i + 1}"
                i += 1
                if s == "};":
                    break
                if not s:
                    # A comment line starts a new block; a blank line ends a run.
                    pending = pending + [comment] if comment is not None else []
                    lead = None
                    continue
                if not s.endswith(";") or "(" in s:
                    raise ConfigError(f"{fwhere}: {st.name}: expected one data member per line "
                                      f"(`type name = init;  // comment`), got: {s}")
                ctype, decls = parse_declaration(s[:-1], fwhere)
                above, pending = pending, []
                new = [Field(st.name, n, ctype, init, comment, above, fwhere) for n, init in decls]
                if above:
                    lead = new[0]
                elif lead is not None:
                    for f in new:
                        f.lead = lead
                st.fields.extend(new)
            structs[st.name] = st
            pending = []
            continue
        pending = []
        i += 1
    return structs, enums


def find_function_body(text, signature_regex, rel):
    m = re.search(signature_regex, text)
    if not m:
        return None
    start = text.index("{", m.end() - 1)
    depth = 0
    for j in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[start + 1:j]
    raise ConfigError(f"{rel}: unbalanced braces after {signature_regex}")


def strip_cpp_comments(text):
    return "\n".join(split_code_comment(l)[0] for l in text.splitlines())


def string_list(text):
    return re.findall(r'"([^"]*)"', text)


def enum_spellings(sources):
    """{(Enum, kConstant): "yaml"} from `case Enum::kX: return "yaml";` in the sources."""
    out = {}
    for text in sources:
        for e, k, name in re.findall(r'case\s+(\w+)::(k\w+):\s*return\s+"([^"]*)";', text):
            out[(e, k)] = name
    return out


def parse_option_keys(root):
    """objective_option_keys: {kConstant: [keys]}, from whichever src/objectives/*.cpp defines it."""
    for path in sorted(glob.glob(os.path.join(root, OBJECTIVES_GLOB))):
        rel = os.path.relpath(path, root)
        text = strip_cpp_comments(read(path))
        body = find_function_body(
            text, r"const\s+std::vector<std::string>&\s+objective_option_keys\s*\(\s*ObjectiveKind\s+\w+\s*\)\s*\{",
            rel)
        if body is None:
            continue
        helpers = {}  # name -> the keys it puts before the objective's own
        for name, params, hbody in re.findall(
                r"std::vector<std::string>\s+(\w+)\s*\(\s*std::vector<std::string>\s+(\w+)\s*\)\s*\{(.*?)\n\}",
                text, re.S):
            base = re.search(r"std::vector<std::string>\s+(\w+)\s*=\s*\{([^}]*)\};", hbody)
            appends = base and re.search(
                rf"{base.group(1)}\.insert\(\s*{base.group(1)}\.end\(\)\s*,\s*{params}\.begin\(\)", hbody)
            if not appends:
                raise ConfigError(f"{rel}: cannot read helper {name}(): expected `keys = {{...}}` "
                                  f"followed by keys.insert(keys.end(), {params}.begin(), ...)")
            helpers[name] = string_list(base.group(2))
        lists = {}
        for name, value in re.findall(
                r"static\s+const\s+std::vector<std::string>\s+(\w+)\s*=\s*(.*?);", body, re.S):
            value = value.strip()
            call = re.fullmatch(r"(\w+)\(\s*\{(.*)\}\s*\)", value, re.S)
            if call and call.group(1) in helpers:
                lists[name] = helpers[call.group(1)] + string_list(call.group(2))
            elif re.fullmatch(r"\{[^{}]*\}", value, re.S):
                lists[name] = string_list(value)
            else:
                raise ConfigError(f"{rel}: objective_option_keys: cannot read the list {name} = {value}")
        keys, pending = {}, []
        for kind, ret in re.findall(r"case\s+ObjectiveKind::(k\w+)\s*:\s*(?:return\s+(\w+)\s*;)?", body):
            pending.append(kind)
            if ret:
                if ret not in lists:
                    raise ConfigError(f"{rel}: objective_option_keys returns {ret}, not a list it defines")
                for k in pending:
                    keys[k] = lists[ret]
                pending = []
        if pending or not keys:
            raise ConfigError(f"{rel}: objective_option_keys: cannot read its switch")
        return keys, rel, text
    raise ConfigError(f"no file under {OBJECTIVES_GLOB} defines objective_option_keys")


def parse_objective_defaults(text):
    """default_objective_config: {kConstant: {field: C++ value}}, or None if it has another shape."""
    body = find_function_body(text, r"ObjectiveConfig\s+default_objective_config\s*\(\s*ObjectiveKind\s+\w+\s*\)\s*\{",
                              "default_objective_config")
    if body is None:
        return None
    m = re.fullmatch(r"\s*ObjectiveConfig\s+c\s*;\s*c\.kind\s*=\s*\w+\s*;\s*switch\s*\(\s*\w+\s*\)\s*\{(.*)\}\s*"
                     r"return\s+c\s*;\s*", body, re.S)
    if not m:
        return None
    out = {}
    for case in re.split(r"(?=\bcase\b|\bdefault\s*:)", m.group(1)):
        case = case.strip()
        if not case:
            continue
        if re.fullmatch(r"default\s*:\s*break\s*;", case):
            continue
        c = re.fullmatch(r"case\s+ObjectiveKind::(k\w+)\s*:\s*((?:c\.\w+\s*=\s*[^;]+;\s*)*)break\s*;", case, re.S)
        if not c:
            return None
        out[c.group(1)] = dict(re.findall(r"c\.(\w+)\s*=\s*([^;]+?)\s*;", c.group(2)))
    return out


def parse_loader_keys(loader, rel):
    """The loader's key lists: (top-level scalars, {section: keys or None for objective_keys()})."""
    text = strip_cpp_comments(loader)

    def list_named(name):
        m = re.search(rf"\b{name}\s*=\s*\{{([^{{}}]*)\}};", text)
        if not m:
            raise ConfigError(f"{rel}: cannot find the key list {name}")
        return string_list(m.group(1))

    top = list_named("kTopScalars")
    m = re.search(r"\bkSections\s*=\s*\{(.*?)\n\};", text, re.S)
    if not m:
        raise ConfigError(f"{rel}: cannot find kSections")
    sections = {}
    for name, value in re.findall(r'\{\s*"(\w+)"\s*,\s*(\w+(?:\(\))?|\{[^{}]*\})\s*\}', m.group(1)):
        if value.startswith("{"):
            sections[name] = string_list(value)
        elif value.endswith("()"):
            sections[name] = None  # computed (objective_keys)
        else:
            sections[name] = list_named(value)
    m = re.search(r'\bkTeachers\s*=\s*"(\w+)"', text)
    if not m:
        raise ConfigError(f"{rel}: cannot find kTeachers")
    return top, sections, m.group(1)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class Row:
    def __init__(self, keys, yaml_type, default, meaning, fields):
        self.keys = keys  # dotted keys, e.g. ["student.path", "teacher.path"]
        self.yaml_type = yaml_type
        self.default = default
        self.meaning = meaning
        self.fields = fields


class Block:
    def __init__(self, title, intro, rows):
        self.title = title
        self.intro = intro
        self.rows = rows


def sentence(text):
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def strip_alias_note(text):
    """Drops "YAML `key`" notes (the reference shows the YAML key already)."""
    return re.sub(r"YAML `[^`]*`\s*[:;,]?\s*", "", text).strip()


class Schema:
    def __init__(self, root):
        self.root = root
        self.structs, self.enums = {}, {}
        for rel in HEADERS:
            text = read(os.path.join(root, rel))
            s, e = parse_header(rel, text)
            self.structs.update(s)
            self.enums.update(e)
        self.loader = read(os.path.join(root, LOADER))
        self.option_keys, self.objectives_rel, objectives_text = parse_option_keys(root)
        sources = [self.loader] + [read(p) for p in sorted(glob.glob(os.path.join(root, OBJECTIVES_GLOB)))]
        self.spellings = enum_spellings(sources)
        self.objective_defaults = parse_objective_defaults(objectives_text)
        self.required = set(re.findall(r'nonempty_string\(\s*"(\w+)"\s*,\s*std::nullopt\s*\)', self.loader))
        self.required |= set(re.findall(r'\brequired\(\s*"(\w+)"\s*\)', self.loader))
        self.warnings = []
        for name in ("TrainConfig", "ModelSpec", "ObjectiveConfig", "WeightedObjective"):
            if name not in self.structs:
                raise ConfigError(f"struct {name} not found in {', '.join(HEADERS)}")
        for struct, field in ALIASES:
            if struct not in self.structs or field not in [f.name for f in self.structs[struct].fields]:
                raise ConfigError(f"ALIASES in {SCRIPT} names {struct}::{field}, which the headers do not "
                                  f"declare (renamed? update ALIASES)")

    def enum_names(self, enum):
        e = self.enums[enum]
        names = []
        for k, _ in e.values:
            if (enum, k) not in self.spellings:
                raise ConfigError(f"{e.where}: {enum}::{k} has no YAML spelling (no `case {enum}::{k}: "
                                  f"return \"...\";` in {LOADER} or {OBJECTIVES_GLOB})")
            names.append(self.spellings[(enum, k)])
        return names

    def yaml_type(self, f):
        if f.ctype in SCALAR_TYPES:
            return SCALAR_TYPES[f.ctype]
        if f.ctype in self.enums:
            if f.ctype in ENUMS_WITH_OWN_TABLE:
                return "objective name"
            return " | ".join(f"`{n}`" for n in self.enum_names(f.ctype))
        raise ConfigError(f"{f.where}: {f.struct}::{f.name}: no YAML type for C++ type {f.ctype} "
                          f"(add it to SCALAR_TYPES in {SCRIPT})")

    def value(self, f, cpp):
        """A C++ initialiser as the YAML a recipe would write."""
        if cpp is None:
            if f.ctype == "std::string":
                return '""'
            if f.ctype.startswith("std::vector"):
                return "[]"
            if f.ctype.startswith("std::map"):
                return "{}"
            raise ConfigError(f"{f.where}: {f.struct}::{f.name} has no initialiser")
        cpp = cpp.strip()
        m = re.fullmatch(r"(\w+)::(k\w+)", cpp)
        if m and m.group(1) in self.enums:
            if (m.group(1), m.group(2)) not in self.spellings:
                raise ConfigError(f"{f.where}: {cpp} has no YAML spelling")
            return self.spellings[(m.group(1), m.group(2))]
        if cpp.startswith("{"):
            items = split_top_level(cpp[1:-1])
            return "[" + ", ".join(i.strip('"') for i in items if i) + "]"
        if cpp.startswith('"'):
            return cpp if cpp == '""' else cpp[1:-1]
        return cpp

    def default(self, f, key):
        if f.init is None and key in self.required:
            return "required"
        return self.value(f, f.init)

    def meaning(self, f, full_key_of, warn=True):
        """The comments above and after the field, its run's heading, and its enum's values."""
        parts = []
        # A one-line comment heading a run of fields is repeated on each; a
        # longer paragraph is shown on the first and pointed at from the others.
        if f.lead is not None and len(f.lead.above) == 1:
            parts.append(sentence(f.lead.above[0]))
        if f.above:
            parts.append(sentence(" ".join(f.above)))
        trailing = strip_alias_note(f.trailing)
        enum = self.enums.get(f.ctype) if f.ctype not in ENUMS_WITH_OWN_TABLE else None
        if enum is not None and trailing == " | ".join(self.enum_names(f.ctype)):
            trailing = ""  # the type column shows the values
        if trailing:
            parts.append(sentence(trailing))
        if f.lead is not None and len(f.lead.above) > 1:
            parts.append(f"See `{full_key_of(f.lead)}`.")
        if enum is not None:
            if enum.doc and not f.above:
                parts.append(sentence(enum.doc))
            described = [(self.spellings[(enum.name, k)], c) for k, c in enum.values if c]
            if described:
                parts.append("; ".join(f"`{n}`: {c}" for n, c in described) + ".")
        if not parts and warn:
            self.warnings.append(f"{f.where}: {f.struct}::{f.name} has no comment")
        return " ".join(parts)

    def key_of(self, f):
        return ALIASES.get((f.struct, f.name), f.name)

    def block_rows(self, struct, prefixes):
        """One row per YAML key of `struct`, written under each of `prefixes`."""
        rows = []
        fields = self.structs[struct].fields
        done = set()
        for f in fields:
            key = self.key_of(f)
            if key in done:
                continue
            done.add(key)
            same = [g for g in fields if self.key_of(g) == key]
            keys = [f"{p}.{key}" for p in prefixes]
            full = lambda g, p=prefixes[0]: f"{p}.{self.key_of(g)}"
            if len(same) == 2 and all(g.ctype == "double" for g in same):  # betas: [beta1, beta2]
                rows.append(Row(keys, "[number, number]",
                                "[" + ", ".join(self.value(g, g.init) for g in same) + "]",
                                self.meaning(f, full), same))
                continue
            if len(same) > 1:
                raise ConfigError(f"{f.where}: {struct}: fields {', '.join(g.name for g in same)} all map "
                                  f"to `{key}`; only a pair of numbers is read as one list")
            elem = re.fullmatch(r"std::vector<(\w+)>", f.ctype)
            if elem and elem.group(1) in self.structs:
                rows.extend(self.list_rows(f, keys, elem.group(1), full))
                continue
            if f.ctype in self.structs:
                raise ConfigError(f"{f.where}: {struct}::{f.name}: a struct inside a section has no YAML "
                                  f"mapping (sections are one level deep)")
            if f.ctype == "ObjectiveKind":
                meaning = "The objective: one of the names in [Objectives](#objectives)."
                extra = self.meaning(f, full, warn=False)
                meaning += (" " + extra) if extra else ""
            else:
                meaning = self.meaning(f, full)
            rows.append(Row(keys, self.yaml_type(f), self.default(f, key), meaning, [f]))
        return rows

    def list_rows(self, f, keys, elem, full):
        """`objective.terms`: the list row, then the keys of one entry."""
        rows = [Row(keys, "list of maps", self.default(f, self.key_of(f)), self.meaning(f, full), [f])]
        prefixes = [k + "[]" for k in keys]
        for g in self.structs[elem].fields:
            if g.ctype == "ObjectiveConfig":
                # The entry holds an objective's own keys beside its other fields.
                entry = [f"{p}.{k}" for p in prefixes for k in ("name", "<option>")]
                refused = ", ".join(f"`{k}`" for k in sorted(TERM_REFUSED_KEYS))
                rows.append(Row(entry, "objective name; its options", "required",
                                f"The term's objective (not `sum`) and any of its option keys "
                                f"(see [Objectives](#objectives)); not {refused}, which is the whole "
                                f"objective's.", [g]))
            elif g.ctype in SCALAR_TYPES or g.ctype in self.enums:
                gfull = lambda h, p=prefixes[0]: f"{p}.{self.key_of(h)}"
                rows.append(Row([f"{p}.{self.key_of(g)}" for p in prefixes], self.yaml_type(g),
                                self.default(g, self.key_of(g)), self.meaning(g, gfull), [g]))
            else:
                raise ConfigError(f"{g.where}: {elem}::{g.name}: no YAML mapping for C++ type {g.ctype}")
        return rows

    def blocks(self):
        """The reference, one Block per YAML block, in TrainConfig's order."""
        top = self.structs["TrainConfig"]
        top_rows, blocks, model_prefixes = [], [], []
        model_notes = []
        full = lambda g: self.key_of(g)
        for f in top.fields:
            if f.ctype == "ModelSpec":
                model_prefixes.append(f.name)
                note = self.meaning(f, full) if (f.above or f.trailing) else ""
                if note:
                    model_notes.append(f"`{f.name}`: {note}")
            elif f.ctype in SCALAR_TYPES or f.ctype in self.enums:
                top_rows.append(Row([f.name], self.yaml_type(f), self.default(f, f.name),
                                    self.meaning(f, full), [f]))
        blocks.append(Block("Top level", "", top_rows))
        spec = self.structs["ModelSpec"]
        intro = " ".join([sentence(spec.doc)] + model_notes) if spec.doc else " ".join(model_notes)
        blocks.append(Block(" / ".join(f"`{p}`" for p in model_prefixes) + " (ModelSpec)", intro,
                            self.block_rows("ModelSpec", model_prefixes)))
        for f in top.fields:
            if f.ctype in ("ModelSpec",) or f.ctype in SCALAR_TYPES or f.ctype in self.enums:
                continue
            m = re.fullmatch(r"std::map<std::string, (\w+)>", f.ctype)
            if m and m.group(1) in self.structs:
                rows = [Row([f.name], f"map: domain -> {m.group(1)}", self.default(f, f.name),
                            self.meaning(f, full), [f])]
                rows += self.block_rows(m.group(1), [f"{f.name}.<domain>"])
                blocks.append(Block(f"`{f.name}` (map of {m.group(1)})",
                                    f"Each entry takes the keys of `{model_prefixes[0]}`.", rows))
            elif f.ctype in self.structs:
                st = self.structs[f.ctype]
                blocks.append(Block(f"`{f.name}` ({f.ctype})", sentence(st.doc) if st.doc else "",
                                    self.block_rows(f.ctype, [f.name])))
            else:
                raise ConfigError(f"{f.where}: TrainConfig::{f.name}: no YAML mapping for C++ type {f.ctype}")
        return blocks

    def objective_table(self):
        """[(name, what it is, [(key, default)])], in enum order; defaults None if unparseable."""
        kind = self.enums["ObjectiveKind"]
        fields = {self.key_of(f): f for f in self.structs["ObjectiveConfig"].fields}
        out = []
        for k, comment in kind.values:
            if k not in self.option_keys:
                raise ConfigError(f"{self.objectives_rel}: objective_option_keys has no case for ObjectiveKind::{k}")
            options = []
            for key in self.option_keys[k]:
                if key not in fields:
                    raise ConfigError(f"{self.objectives_rel}: objective_option_keys lists `{key}` for "
                                      f"{self.spellings[('ObjectiveKind', k)]}, but no ObjectiveConfig field "
                                      f"maps to it")
                f = fields[key]
                if self.objective_defaults is None:
                    options.append((key, None, False))
                    continue
                override = self.objective_defaults.get(k, {}).get(f.name)
                if override is None:
                    options.append((key, self.default(f, key), False))
                else:
                    options.append((key, self.value(f, override), True))
            out.append((self.spellings[("ObjectiveKind", k)], comment, options))
        return out

    def check_against_loader(self, blocks):
        """Every key mentioned by the loader, and the loader's key lists equal to the reference's."""
        errors = []
        for b in blocks:
            for r in b.rows:
                for key in r.keys:
                    for part in key.replace("[]", "").split("."):
                        if part.startswith("<"):
                            continue
                        if f'"{part}"' not in self.loader:
                            errors.append(f"{r.fields[0].where}: {r.fields[0].struct}::{r.fields[0].name} maps "
                                          f"to `{key}`, but {LOADER} never mentions \"{part}\" (add an alias "
                                          f"to ALIASES in {SCRIPT}?)")
        top, sections, teachers = parse_loader_keys(self.loader, LOADER)
        ours_top = [r.keys[0] for r in blocks[0].rows]
        ours_sections = {}
        for b in blocks[1:]:
            for r in b.rows:
                for key in r.keys:
                    parts = key.split(".")
                    if len(parts) == 2 and not parts[0].endswith("]"):
                        ours_sections.setdefault(parts[0], []).append(parts[1])
        objective_union = list(OBJECTIVE_COMMON_KEYS)
        for keys in self.option_keys.values():
            objective_union += [k for k in keys if k not in objective_union]
        for name, keys in sections.items():
            sections[name] = keys if keys is not None else objective_union

        def compare(what, loader_keys, ref_keys):
            for k in loader_keys:
                if k not in ref_keys:
                    errors.append(f"{LOADER} accepts `{what}{k}`, but no struct field maps to it")
            for k in ref_keys:
                if k not in loader_keys:
                    errors.append(f"the reference lists `{what}{k}`, but {LOADER} does not accept it "
                                  f"(wrong name? add an alias to ALIASES in {SCRIPT})")

        compare("", top, ours_top)
        compare("", list(sections) + [teachers], list(ours_sections) + [teachers])
        for name in sections:
            compare(f"{name}.", sections[name], ours_sections.get(name, []))
        for f in self.structs["ObjectiveConfig"].fields:
            key = self.key_of(f)
            if key not in objective_union:
                errors.append(f"{f.where}: ObjectiveConfig::{f.name} (`objective.{key}`) is accepted by no "
                              f"objective: add it to objective_option_keys or remove it")
        if errors:
            raise ConfigError("\n".join(errors))

    def check_recipes(self, blocks):
        known = set()
        for b in blocks:
            for r in b.rows:
                known.update(r.keys)
        options = {k for keys in self.option_keys.values() for k in keys} - TERM_REFUSED_KEYS
        known.update(k.replace("<option>", o) for k in list(known) if "<option>" in k for o in options)
        known.update(k.split(".")[0] for k in list(known))
        term_options = {"name", "weight"}
        objective_options = {self.spellings[("ObjectiveKind", k)]: v for k, v in self.option_keys.items()}
        kind = self.objective_kind_field()
        default_name = self.value(kind, kind.init)
        paths = sorted(p for g in RECIPE_GLOBS for p in glob.glob(os.path.join(self.root, g)))
        if not paths:
            raise ConfigError(f"no recipes found under {', '.join(RECIPE_GLOBS)}")
        errors = []
        for path in paths:
            rel = os.path.relpath(path, self.root)
            try:
                doc = load_yaml(read(path))
            except ValueError as e:
                errors.append(f"{rel}: cannot read: {e}")
                continue
            if doc is None:
                continue
            if not isinstance(doc, dict):
                errors.append(f"{rel}: a recipe is a map, got {type(doc).__name__}")
                continue
            for key, pattern in recipe_keys(doc):
                if pattern not in known:
                    errors.append(f"{rel}: `{key}` is not in the reference")
            obj = doc.get("objective")
            if isinstance(obj, dict):
                entries = [("objective", obj, set(OBJECTIVE_COMMON_KEYS))]
                for i, t in enumerate(obj.get("terms") or []):
                    if isinstance(t, dict):
                        entries.append((f"objective.terms[{i}]", t, term_options))
                for where, entry, common in entries:
                    name = str(entry.get("name", default_name))
                    if name not in objective_options:
                        errors.append(f"{rel}: `{where}.name` = {name} is not an objective "
                                      f"({', '.join(objective_options)})")
                        continue
                    for k in entry:
                        if k not in common and k not in objective_options[name]:
                            errors.append(f"{rel}: `{where}.{k}` is not an option of {name} (its options: "
                                          f"{', '.join(objective_options[name]) or 'none'})")
        if errors:
            raise ConfigError("\n".join(errors))

    def objective_kind_field(self):
        for f in self.structs["ObjectiveConfig"].fields:
            if f.ctype == "ObjectiveKind":
                return f
        raise ConfigError("ObjectiveConfig has no ObjectiveKind field")


def recipe_keys(doc):
    """(dotted key as written, the reference's pattern for it) for every key of a recipe."""
    for k, v in doc.items():
        k = str(k)
        yield k, k
        if not isinstance(v, dict):
            continue
        for sub, sv in v.items():
            sub = str(sub)
            if k == "teachers":
                yield f"{k}.{sub}", k  # a domain: any name
                if isinstance(sv, dict):
                    for m in sv:
                        yield f"{k}.{sub}.{m}", f"{k}.<domain>.{m}"
                continue
            yield f"{k}.{sub}", f"{k}.{sub}"
            if isinstance(sv, list):
                for i, entry in enumerate(sv):
                    if isinstance(entry, dict):
                        for m in entry:
                            yield f"{k}.{sub}[{i}].{m}", f"{k}.{sub}[].{m}"
            elif isinstance(sv, dict):
                for m in sv:
                    yield f"{k}.{sub}.{m}", f"{k}.{sub}.{m}"


def load_yaml(text):
    import yaml  # PyYAML, in the .venv/ tools/setup.sh makes
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(str(e).replace("\n", " "))


def cell(text):
    """Text for a table cell: `|` escaped, and `<` outside code spans where it would open a tag."""
    parts = text.replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"<(?=[A-Za-z/])", "&lt;", parts[i])
    return "`".join(parts)


def code(s):
    return f"`{s}`"


def render(schema, blocks):
    out = []
    w = out.append
    w("# Recipe reference")
    w("")
    w(f"> Generated by `{SCRIPT}` from the config structs in "
      + " and ".join(f"`{h}`" for h in HEADERS) + "; do not edit by hand. Regenerate with "
      f"`.venv/bin/python {SCRIPT} docs/config_reference.md`; the ctest "
      "`docs.config_reference_up_to_date` fails while this file is stale.")
    w("")
    w("A recipe is one YAML map; unknown keys are errors. `opd-train --set section.key=value` "
      "overrides one key (e.g. `--set optim.lr=3e-4`). A default of *required* means the loader "
      "refuses a recipe without the key.")
    w("")
    for b in blocks:
        w(f"## {b.title}")
        w("")
        if b.intro:
            w(cell(b.intro).replace("\\|", "|"))
            w("")
        w("| key | type | default | meaning |")
        w("|---|---|---|---|")
        for r in b.rows:
            keys = ", ".join(code(k) for k in r.keys)
            default = r.default if r.default == "required" else code(r.default)
            w(f"| {cell(keys)} | {cell(r.yaml_type)} | {cell(default)} | {cell(r.meaning)} |")
        w("")
    w("## Objectives")
    w("")
    w("`objective.name` picks one of these. Every objective accepts `name` and `normalization`; "
      "besides those, only the option keys listed here (any other key is an error). "
      + ("Defaults are the objective's own; those in bold differ from the `objective` table above."
         if schema.objective_defaults is not None else
         "(Per-objective defaults are not shown: default_objective_config could not be read.)"))
    w("")
    w("| name | what it trains | option keys (default) |")
    w("|---|---|---|")
    for name, what, options in schema.objective_table():
        opts = []
        for key, default, differs in options:
            if default is None:
                opts.append(code(key))
            elif default == "required":
                opts.append(f"{code(key)} (required)")
            else:
                opts.append(f"{code(key)} = " + (f"**{code(default)}**" if differs else code(default)))
        w(f"| {code(name)} | {cell(sentence(what)) if what else ''} | {cell(', '.join(opts)) or 'none'} |")
    w("")
    w("The generator also checks that every key used by the recipes in "
      + " and ".join(code(g) for g in RECIPE_GLOBS)
      + " is listed here and accepted by its objective.")
    w("")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", metavar="OUT.md")
    p.add_argument("--check", action="store_true", help="exit 1 with a diff if OUT.md is stale")
    p.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   help="the source tree (default: this script's)")
    args = p.parse_args()
    try:
        schema = Schema(args.root)
        blocks = schema.blocks()
        schema.objective_table()  # names an option key without a field before the loader check does
        schema.check_against_loader(blocks)
        schema.check_recipes(blocks)
        text = render(schema, blocks)
    except (ConfigError, OSError) as e:
        print(f"gen_config_reference: error: {e}", file=sys.stderr)
        return 2
    if args.check:
        try:
            current = read(args.out)
        except OSError as e:
            print(f"gen_config_reference: {args.out} is stale: {e.strerror}", file=sys.stderr)
            return 1
        if current != text:
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(True), text.splitlines(True), args.out, args.out + " (generated)"))
            print(f"gen_config_reference: {args.out} is stale; regenerate with "
                  f".venv/bin/python {SCRIPT} {args.out}", file=sys.stderr)
            return 1
        return 0
    for warning in schema.warnings:
        print(f"gen_config_reference: warning: {warning}", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
