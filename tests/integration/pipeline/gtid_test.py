"""GTID start/resume against real MariaDB servers: a private primary and a replica of it (with its
own binlog files, numbered higher, as after a failover to a promoted replica).

- The offset taken on the primary resumes on the replica by GTID, where the primary's file:pos
  means nothing (its binlog files do not exist there): exactly the transactions after the offset,
  no loss, no duplicate, with the replica's coordinates; and again from the replica's own offset.
- On the primary, events resumed by GTID carry the same (file, pos, row) — hence the same _version
  — as one continuous capture of the same binlog.
- Back to a server whose binlog coordinates are lower than the offset's: refused, with the fix.
- Purged GTIDs: an error naming them, or a new snapshot with snapshot.mode when_needed.

Standard library only; run: SLUICE_BIN=build/sluice python3 tests/integration/pipeline/gtid_test.py -v
"""
import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from private_mariadb import PrivateMariaDB, capture, write_capture_config  # noqa: E402

DB = "gt"


def changes(events):
    """(op, id) of each change event (tombstones left out), in order."""
    out = []
    for e in events:
        v = e["value"]
        if v is None:
            continue
        row = v["after"] if v["after"] is not None else v["before"]
        out.append((v["op"], row["id"]))
    return out


class GtidResume(unittest.TestCase):
    def setUp(self):
        self.primary = PrivateMariaDB("gtid-primary", server_id=1).start()
        self.addCleanup(self.primary.cleanup)
        self.dir = self.primary.dir
        self.primary.root(f"CREATE DATABASE {DB}; CREATE TABLE {DB}.t (id INT PRIMARY KEY, v VARCHAR(20));"
                          f"INSERT INTO {DB}.t VALUES (1,'a'),(2,'b'),(3,'c');")

    def config(self, name, port, snapshot_mode="initial"):
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "capture.yaml")
        write_capture_config(path, port, DB, snapshot_mode=snapshot_mode)
        return path

    def copy_state(self, src_config, name, port, snapshot_mode="initial"):
        """A new config on `port` with a copy of src_config's state directory."""
        path = self.config(name, port, snapshot_mode)
        shutil.copytree(os.path.join(os.path.dirname(src_config), "state"), os.path.join(os.path.dirname(path), "state"))
        return path

    def phase(self, first_id):
        """Five transactions on the primary; returns the (op, id) changes they make, in order."""
        p = self.primary
        p.root(f"INSERT INTO {DB}.t VALUES ({first_id},'x');"
               f"INSERT INTO {DB}.t VALUES ({first_id + 1},'y'),({first_id + 2},'z');"
               f"UPDATE {DB}.t SET v = 'u{first_id}' WHERE id = 1;"
               f"BEGIN; DELETE FROM {DB}.t WHERE id = {first_id}; INSERT INTO {DB}.t VALUES ({first_id + 3},'w'); COMMIT;"
               f"UPDATE {DB}.t SET v = CONCAT(v, '!') WHERE id = {first_id + 1};")
        return [("c", first_id), ("c", first_id + 1), ("c", first_id + 2), ("u", 1), ("d", first_id),
                ("c", first_id + 3), ("u", first_id + 1)]

    def test_failover_to_replica_resumes_by_gtid_exactly(self):
        p = self.primary
        # The replica writes its own binlog (log-slave-updates), numbered from 100: its file:pos
        # coordinates are all above the primary's, and the primary's files do not exist on it.
        r = PrivateMariaDB("gtid-replica", server_id=2, log_bin="replica-bin").start()
        self.addCleanup(r.cleanup)
        r.root(f"RESET MASTER TO 100; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={p.port}, "
               "MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos; START SLAVE;")

        def replica_caught_up():
            want = p.value("SELECT @@gtid_binlog_pos")
            deadline = time.time() + 30
            while time.time() < deadline:
                if r.value("SELECT @@gtid_slave_pos") == want:
                    return
                time.sleep(0.1)
            self.fail(f"replica did not catch up to {want}: {r.root('SHOW SLAVE STATUS')}")

        on_primary = self.config("a", p.port)
        events, _, _ = capture(on_primary)
        self.assertEqual(changes(events), [("r", 1), ("r", 2), ("r", 3)])

        # Continuous control capture of the whole binlog (file:pos from the start, one run).
        control = self.config("control", p.port, "never")

        expected2 = self.phase(10)
        replica_caught_up()
        # Same server: resume by GTID; positions (hence _version) equal the continuous capture's.
        same = self.copy_state(on_primary, "same", p.port)
        ev_same, err, _ = capture(same)
        self.assertIn("binlog dump from GTID position 0-1-", err)
        self.assertEqual(changes(ev_same), expected2)

        # Failover: the same offset, now against the replica.
        on_replica = self.copy_state(on_primary, "b", r.port)
        ev2, err, _ = capture(on_replica)
        self.assertIn("binlog dump from GTID position 0-1-", err, err[-3000:])
        self.assertEqual(changes(ev2), expected2, err[-3000:])
        self.assertTrue(all(e["value"]["source"]["file"].startswith("replica-bin.0001") for e in ev2 if e["value"]))
        # Same transactions, same GTIDs (replication keeps them), same row images.
        gt = lambda evs: [(e["value"]["source"]["gtid"], e["value"]["source"]["row"], e["value"]["after"])
                          for e in evs if e["value"]]
        self.assertEqual(gt(ev2), gt(ev_same))

        # And again from the offset now stored with the replica's coordinates.
        expected3 = self.phase(20)
        replica_caught_up()
        ev3, err, _ = capture(on_replica)
        self.assertEqual(changes(ev3), expected3, err[-3000:])
        ev3_again, _, _ = capture(on_replica)
        self.assertEqual(changes(ev3_again), [])

        ev_ctrl, _, _ = capture(control)
        pos = lambda evs: {(e["value"]["source"]["gtid"], e["value"]["source"]["row"]):
                           (e["value"]["source"]["file"], e["value"]["source"]["pos"]) for e in evs if e["value"]}
        ctrl = pos(ev_ctrl)
        for k, v in pos(ev_same).items():
            self.assertEqual(ctrl[k], v, f"event {k}: resumed by GTID at {v}, continuous capture at {ctrl[k]}")

        # Back to the primary with the replica's offset: its coordinates are lower, so _version
        # would go backwards. Refused with the fix, nothing emitted.
        self.phase(30)
        back = self.copy_state(on_replica, "back", p.port)
        events, err, rc = capture(back, check=False)
        self.assertNotEqual(rc, 0, err[-3000:])
        self.assertIn("before the stored offset's coordinates replica-bin.000100", err)
        self.assertIn("Re-snapshot", err)
        self.assertEqual(changes(events), [])

    def test_purged_gtids_error_or_resnapshot(self):
        p = self.primary
        cfg = self.config("a", p.port)
        capture(cfg)
        self.phase(10)
        p.root(f"FLUSH BINARY LOGS; INSERT INTO {DB}.t VALUES (100,'after');")
        newest = p.root("SHOW BINARY LOGS")[-1][0]
        p.root(f"PURGE BINARY LOGS TO '{newest}'")
        events, err, rc = capture(cfg, check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("needs transactions 0-*-", err)
        self.assertIn(f"purged before binlog {newest}", err)
        self.assertIn("when_needed", err)
        self.assertEqual(events, [])
        when_needed = self.copy_state(cfg, "wn", p.port, "when_needed")
        events, err, _ = capture(when_needed)
        self.assertIn("taking a new snapshot", err)
        ids = sorted(i for op, i in changes(events))
        self.assertEqual(sorted(int(x[0]) for x in p.root(f"SELECT id FROM {DB}.t")), ids)
        self.assertTrue(all(op == "r" for op, _ in changes(events)))


if __name__ == "__main__":
    unittest.main()
