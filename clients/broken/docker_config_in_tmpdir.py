"""A deliberately broken implementation (Python): credsim's Python implementation, unchanged,
except that it stores every credential it hands out the way `docker login` does, in a fresh
Docker config folder under the temporary directory (`DOCKER_CONFIG=$(mktemp -d)`, a common CI
pattern): `<tmp>/docker-XXXX/config.json`, whose `auths.<host>.auth` is base64 of
`user:password`. Outside the working directory and encoded: `no-secret-leak` must still see it.
"""
import base64
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import credsim_impl  # noqa: E402


class DockerConfigInTmpdir(credsim_impl.Implementation):
    def __init__(self):
        super().__init__()
        self.config_dir = tempfile.mkdtemp(prefix="docker-")

    def get(self, project, registry, repository):
        result = super().get(project, registry, repository)
        path = os.path.join(self.config_dir, "config.json")
        try:
            with open(path) as f:
                config = json.load(f)
        except OSError:
            config = {"auths": {}}
        auth = base64.b64encode(f"{result['username']}:{result['password']}".encode()).decode()
        config["auths"][registry] = {"auth": auth}
        with open(path, "w") as f:
            json.dump(config, f, indent=2)
        return result


if __name__ == "__main__":
    credsim_impl.Implementation = DockerConfigInTmpdir
    credsim_impl.main()
