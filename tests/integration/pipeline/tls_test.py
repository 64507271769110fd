"""TLS to the source, for real: a private MariaDB with a certificate from a CA generated here (openssl)
and require_secure_transport=ON.

- `sluice check` and a capture work with database.ssl.mode verify_ca (and verify_identity: the
  certificate names 127.0.0.1), and the session is encrypted (the server says so);
- without TLS (database.ssl.mode disabled) the server refuses, and the error says to set
  database.ssl.mode;
- a CA that did not sign the server's certificate: a clear error naming database.ssl.ca;
- required against a server without TLS: an error saying the server offers none.

Standard library only; run: SLUICE_BIN=build/sluice python3 tests/integration/pipeline/tls_test.py -v
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import SLUICE  # noqa: E402
from private_mariadb import PrivateMariaDB, capture, write_capture_config  # noqa: E402

DB = "tlsdb"


def openssl(*args, cwd):
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {out.stderr}")


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=d)
    return os.path.join(d, f"{name}.pem")


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = PrivateMariaDB("tls")
        d = cls.certs = os.path.join(cls.server.dir, "certs")
        os.makedirs(d)
        cls.ca = make_ca(d, "ca")
        cls.other_ca = make_ca(d, "other-ca")
        with open(os.path.join(d, "ext.cnf"), "w") as f:
            f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=sluice-test-server", "-keyout", "server.key",
                "-out", "server.csr", cwd=d)
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)
        cls.server.extra = [f"--ssl-ca={cls.ca}", f"--ssl-cert={os.path.join(d, 'server.pem')}",
                            f"--ssl-key={os.path.join(d, 'server.key')}", "--require-secure-transport=ON"]
        try:
            cls.server.start()
            cls.server.root(f"CREATE DATABASE {DB}; CREATE TABLE {DB}.t (id INT PRIMARY KEY, v TEXT);"
                            f"INSERT INTO {DB}.t VALUES (1, 'one'), (2, 'two');")
        except Exception:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def config(self, name, ssl, port=None):
        d = os.path.join(self.server.dir, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "capture.yaml")
        write_capture_config(path, port or self.server.port, DB, extra="".join(f"  {k}: {v}\n" for k, v in ssl.items()))
        return path

    def check(self, config):
        return subprocess.run([SLUICE, "check", config], capture_output=True, text=True, timeout=60)

    def test_verify_ca_check_and_capture(self):
        for mode in ("verify_ca", "verify_identity"):
            cfg = self.config(mode, {"database.ssl.mode": mode, "database.ssl.ca": self.ca})
            out = self.check(cfg)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("ok", out.stdout)
        events, err, _ = capture(cfg)
        self.assertEqual(sorted(e["value"]["after"]["id"] for e in events if e["value"]), [1, 2])
        self.server.root(f"INSERT INTO {DB}.t VALUES (3, 'three')")
        events, err, _ = capture(cfg)
        self.assertEqual([(e["value"]["op"], e["value"]["after"]["id"]) for e in events if e["value"]], [("c", 3)])
        # The server saw encrypted sessions from the CDC user (binlog dump included).
        self.assertGreater(int(self.server.value(
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SSL_ACCEPTS'")), 0)

    def test_without_tls_is_refused_and_says_to_set_ssl_mode(self):
        out = self.check(self.config("plain", {"database.ssl.mode": "disabled"}))
        self.assertNotEqual(out.returncode, 0)
        err = out.stdout + out.stderr
        # MariaDB 10.11 answers "Access denied"; MySQL and later MariaDB name require_secure_transport.
        self.assertIn("require_secure_transport", err)
        self.assertIn("set source.database.ssl.mode", err)
        self.assertIn("verify_ca", err)

    def test_wrong_ca_is_a_clear_error(self):
        out = self.check(self.config("wrong", {"database.ssl.mode": "verify_ca", "database.ssl.ca": self.other_ca}))
        self.assertNotEqual(out.returncode, 0)
        err = out.stdout + out.stderr
        self.assertIn("TLS connection to MySQL at 127.0.0.1", err)
        self.assertIn("source.database.ssl.ca", err)
        self.assertIn(self.other_ca, err)
        # A CA file that does not exist is a config error naming the key.
        out = self.check(self.config("missing", {"database.ssl.mode": "verify_ca", "database.ssl.ca": "/nonexistent/ca.pem"}))
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("source.database.ssl.ca: cannot read '/nonexistent/ca.pem'", out.stdout + out.stderr)

    def test_required_against_a_server_without_tls(self):
        plain = PrivateMariaDB("notls").start()
        try:
            plain.root(f"CREATE DATABASE {DB}; CREATE TABLE {DB}.t (id INT PRIMARY KEY)")
            out = self.check(self.config("required", {"database.ssl.mode": "required"}, port=plain.port))
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("does not offer TLS", out.stdout + out.stderr)
            # preferred falls back to plain text there.
            out = self.check(self.config("preferred", {"database.ssl.mode": "preferred"}, port=plain.port))
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        finally:
            plain.cleanup()


if __name__ == "__main__":
    unittest.main()
