"""Validates scenario files against credsim's committed JSON Schema with the `jsonschema` package,
as an editor's YAML language server would.

argv[1] is the schema; the rest are YAML files or Markdown files (each ```yaml block of a Markdown
file is one document). YAML is read as YAML 1.2 reads it (only true/false are booleans), like the
language servers editors use. Prints {"results": [{"source", "valid", "errors"}]}.
"""
import json
import re
import sys

import jsonschema
import yaml


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's yes/no/on/off booleans."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def documents(path):
    text = open(path, encoding="utf-8").read()
    if not path.endswith(".md"):
        return [(path, text)]
    docs, current, start = [], None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if current is None and line.strip() == "```yaml":
            current, start = [], number + 1
        elif current is not None and line.strip() == "```":
            docs.append((f"{path}:{start}", "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return docs


def main():
    schema = json.load(open(sys.argv[1], encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    results = []
    for path in sys.argv[2:]:
        for source, text in documents(path):
            instance = yaml.load(text, Loader=Yaml12Loader)
            errors = [
                f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
                for e in validator.iter_errors(instance)
            ]
            results.append({"source": source, "valid": not errors, "errors": errors})
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
