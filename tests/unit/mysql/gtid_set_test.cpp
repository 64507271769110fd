// GTID sets: MySQL's text form, merging, containment and the binary encoding COM_BINLOG_DUMP_GTID
// carries (checked against PREVIOUS_GTIDS events written by real MySQL servers, which use the same
// encoding), MariaDB positions, gtid.source.* filters and the dump packet.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "binlog_test_util.h"
#include "common/error.h"
#include "mysql/binlog_event.h"
#include "mysql/binlog_stream.h"
#include "mysql/gtid_set.h"
#include "mysql/offset.h"

namespace sluice::mysql {
namespace {

const std::string kA = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const std::string kB = "8e349184-bc14-11e3-8d4c-0800272864ba";

TEST(MySqlGtidSet, ParsesIntervalsAndMergesOverlapsAndNeighbours) {
  // SHOW MASTER STATUS prints ",\n" between sources and uppercase UUIDs are accepted.
  MySqlGtidSet s = MySqlGtidSet::Parse("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7-9:11,\n" + kB + ":1-3,\n" + kA +
                                       ":6");
  EXPECT_EQ(s.ToString(), kA + ":1-9:11," + kB + ":1-3");
  EXPECT_EQ(MySqlGtidSet::Parse("").ToString(), "");
  EXPECT_TRUE(MySqlGtidSet::Parse(" \n").empty());
  EXPECT_EQ(MySqlGtidSet::Parse(kA + ":4-6:1-3:20-30:25").ToString(), kA + ":1-6:20-30");
}

TEST(MySqlGtidSet, AddingTransactionsOneByOneCoalesces) {
  MySqlGtidSet s;
  s.AddGtid(kA + ":1");
  s.AddGtid(kA + ":2");
  s.AddGtid(kA + ":5");
  EXPECT_EQ(s.ToString(), kA + ":1-2:5");
  s.AddGtid(kA + ":4");
  s.AddGtid(kA + ":3");
  EXPECT_EQ(s.ToString(), kA + ":1-5");
  s.AddGtid(kB + ":9");
  s.AddGtid(kA + ":5");  // already in: no change
  EXPECT_EQ(s.ToString(), kA + ":1-5," + kB + ":9");
}

TEST(MySqlGtidSet, TaggedGtidsOfMySql84) {
  MySqlGtidSet s = MySqlGtidSet::Parse(kA + ":1-13:MyTag:1-2");
  EXPECT_EQ(s.ToString(), kA + ":1-13:mytag:1-2");  // tags are case-insensitive, kept lowercase
  s.AddGtid(kA + ":mytag:3");
  s.AddGtid(kA + ":14");
  s.AddGtid(kA + ":other_tag:7");
  EXPECT_EQ(s.ToString(), kA + ":1-14:mytag:1-3:other_tag:7");
  // MySQL's form with several tags of one UUID: each tag applies to the intervals after it.
  EXPECT_EQ(MySqlGtidSet::Parse(kA + ":a:1-2:b:5:1-3").ToString(), kA + ":a:1-2:b:1-3:5");
  EXPECT_EQ(MySqlGtidSet::Parse(kA + ":7:t:1," + kA + ":1-6").ToString(), kA + ":1-7:t:1");
}

TEST(MySqlGtidSet, BadTextIsRejectedWithTheOffendingPart) {
  for (const std::string& bad : std::vector<std::string>{kA, kA + ":0", kA + ":5-3", "nonsense:1-3", kA + ":1-x", kA + ":mytag",
                                kA + ":9bad:1", kA + ":1-99999999999999999999"}) {
    try {
      MySqlGtidSet::Parse(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("is not valid"), std::string::npos) << e.what();
    }
  }
  MySqlGtidSet s;
  EXPECT_THROW(s.AddGtid("0-1-42"), Error);  // a MariaDB GTID
}

TEST(MySqlGtidSet, MissingAndContains) {
  MySqlGtidSet ours = MySqlGtidSet::Parse(kA + ":1-20," + kB + ":1-5");
  EXPECT_TRUE(ours.Contains(MySqlGtidSet::Parse(kA + ":1-10")));
  EXPECT_TRUE(ours.Contains(MySqlGtidSet()));
  MySqlGtidSet purged = MySqlGtidSet::Parse(kA + ":1-25," + kB + ":3-4");
  EXPECT_FALSE(ours.Contains(purged));
  EXPECT_EQ(ours.Missing(purged).ToString(), kA + ":21-25");
  MySqlGtidSet holes = MySqlGtidSet::Parse(kA + ":5-8:12-20");
  EXPECT_EQ(holes.Missing(MySqlGtidSet::Parse(kA + ":1-30")).ToString(), kA + ":1-4:9-11:21-30");
  EXPECT_EQ(holes.Missing(MySqlGtidSet::Parse(kA + ":tag:1")).ToString(), kA + ":tag:1");
}

TEST(MySqlGtidSet, MergeAndFilter) {
  MySqlGtidSet s = MySqlGtidSet::Parse(kA + ":1-3");
  s.Merge(MySqlGtidSet::Parse(kA + ":4-9," + kB + ":1"));
  EXPECT_EQ(s.ToString(), kA + ":1-9," + kB + ":1");
  EXPECT_EQ(s.Filter([&](const std::string& uuid) { return uuid == kB; }).ToString(), kB + ":1");
}

// Gtid_set::encode, worked out from MySQL's documentation of COM_BINLOG_DUMP_GTID: n_sids (8),
// then per SID: uuid (16), n_intervals (8), intervals as [start, end) pairs of 8-byte numbers.
TEST(MySqlGtidSet, EncodesAsMySqlDocuments) {
  MySqlGtidSet s = MySqlGtidSet::Parse(kA + ":1-5:7-9");
  std::string want;
  auto u64 = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) want += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  u64(1);
  const unsigned char uuid[16] = {0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1,
                                  0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62};
  want.append(reinterpret_cast<const char*>(uuid), 16);
  u64(2);
  u64(1);
  u64(6);
  u64(7);
  u64(10);
  EXPECT_EQ(s.Encode(), want);
  std::string empty(8, '\0');
  EXPECT_EQ(MySqlGtidSet().Encode(), empty);
}

// Every PREVIOUS_GTIDS event in the MySQL-written fixtures (8.0 untagged, 9.6 tagged) is the
// encoding of the set it holds: parse its text, re-encode, compare with the bytes MySQL wrote.
TEST(MySqlGtidSet, EncodingEqualsPreviousGtidsWrittenByMySql) {
  int checked = 0, tagged = 0;
  for (const char* f : {"binlog_transaction_with_GTID_TAG.000001", "json.binlog.000001",
                        "transaction_compression.000001", "mysql-enum-string-set.000001", "mysql_type_bit.000001",
                        "minimal_row_metadata.000001", "time_issue.000001", "binlog-invisible-columns.000001",
                        "rpl_unfiltered_hidden_gcol.000001"}) {
    const std::string file = testing::ReadFixture(std::string("rust_mysql_common/") + f);
    size_t off = 4;
    while (off + 19 <= file.size()) {
      const auto* p = reinterpret_cast<const unsigned char*>(file.data() + off);
      const uint32_t size = p[9] | (p[10] << 8) | (p[11] << 16) | (static_cast<uint32_t>(p[12]) << 24);
      if (size < 19 || off + size > file.size()) break;
      if (p[4] == 35) {  // PREVIOUS_GTIDS_LOG_EVENT; the files carry CRC32 checksums
        const std::string body = file.substr(off + 19, size - 19 - 4);
        EventHeader h;
        h.type = 35;
        PreviousGtidsEvent prev = ParsePreviousGtids(h, body);
        MySqlGtidSet set = MySqlGtidSet::Parse(prev.ToString());
        EXPECT_EQ(set.ToString(), prev.ToString()) << f;
        EXPECT_EQ(set.Encode(), body) << f << ": " << prev.ToString();
        ++checked;
        if ((static_cast<uint8_t>(body[7])) != 0) ++tagged;
      }
      off += size;
    }
  }
  EXPECT_GE(checked, 2);
  EXPECT_EQ(tagged, 1);  // the MySQL 9.6 file's tagged format
}

TEST(ComBinlogDumpGtid, PacketLayout) {
  const std::string set = MySqlGtidSet::Parse(kA + ":1-5").Encode();
  const std::string p = ComBinlogDumpGtidPayload(5401, set, /*non_blocking=*/false);
  ASSERT_EQ(p.size(), 2u + 4 + 4 + 8 + 4 + set.size());
  EXPECT_EQ(static_cast<uint8_t>(p[0]), 0x04);  // BINLOG_THROUGH_GTID
  EXPECT_EQ(static_cast<uint8_t>(p[1]), 0x00);
  EXPECT_EQ(static_cast<uint8_t>(p[2]), 5401 & 0xff);
  EXPECT_EQ(static_cast<uint8_t>(p[3]), 5401 >> 8);
  EXPECT_EQ(p.substr(6, 4), std::string(4, '\0'));          // no file name
  EXPECT_EQ(static_cast<uint8_t>(p[10]), 4);                 // position 4
  EXPECT_EQ(static_cast<uint8_t>(p[18]), set.size() & 0xff);  // data size
  EXPECT_EQ(p.substr(22), set);
  EXPECT_EQ(static_cast<uint8_t>(ComBinlogDumpGtidPayload(1, set, true)[0]), 0x05);  // | BINLOG_DUMP_NON_BLOCK
}

TEST(MariaGtidPosition, MultiDomainParseUpdateAndCover) {
  MariaGtidPosition p = MariaGtidPosition::Parse(" 1-2-7 ,0-1-42");
  EXPECT_EQ(p.ToString(), "0-1-42,1-2-7");
  p.Set(0, {3, 43});  // domain 0 failed over to server 3
  p.Set(5, {1, 1});
  EXPECT_EQ(p.ToString(), "0-3-43,1-2-7,5-1-1");
  EXPECT_TRUE(p.Covers(MariaGtidPosition::Parse("0-1-43,1-2-6")));
  EXPECT_FALSE(p.Covers(MariaGtidPosition::Parse("0-1-44")));
  EXPECT_FALSE(p.Covers(MariaGtidPosition::Parse("9-1-1")));  // a domain we have not seen
  EXPECT_TRUE(MariaGtidPosition::Parse("").empty());
  EXPECT_THROW(MariaGtidPosition::Parse("0-1"), Error);
  EXPECT_THROW(MariaGtidPosition::Parse("0-1-2,0-2-3"), Error);  // a state, not a position
  EXPECT_THROW(MariaGtidPosition::Parse(kA + ":1-5"), Error);
  // A binlog state (GTID_LIST) keeps every server of a domain; its position is the highest.
  EXPECT_EQ(MariaGtidPosition::FromState("0-1-40,0-3-43,1-2-7").ToString(), "0-3-43,1-2-7");
  MariaGtidPosition q = MariaGtidPosition::Parse("0-1-42");
  q.AddMissing(MariaGtidPosition::Parse("0-1-99,2-1-5"));
  EXPECT_EQ(q.ToString(), "0-1-42,2-1-5");
  EXPECT_EQ(p.Filter([](const std::string& d) { return d != "1"; }).ToString(), "0-3-43,5-1-1");
}

TEST(GtidSourceFilter, IncludesExcludesAnchoredCaseInsensitive) {
  GtidSourceFilter none;
  EXPECT_TRUE(none.Keep(kA));
  EXPECT_FALSE(none.active());
  GtidSourceFilter inc({"3E11FA47-.*"}, {});
  EXPECT_TRUE(inc.Keep(kA));
  EXPECT_FALSE(inc.Keep(kB));
  GtidSourceFilter exc({}, {"8e349184-bc14-11e3-8d4c-0800272864ba", "1"});
  EXPECT_TRUE(exc.Keep(kA));
  EXPECT_FALSE(exc.Keep(kB));
  EXPECT_FALSE(exc.Keep("1"));
  EXPECT_TRUE(exc.Keep("11"));  // anchored: domain 11 is not domain 1
  EXPECT_THROW(GtidSourceFilter({"a"}, {"b"}), Error);
  EXPECT_THROW(GtidSourceFilter({"("}, {}), Error);
}

TEST(SourceOffset, GtidSetRoundTripsAndOldOffsetsAreNotFull) {
  SourceOffset o;
  o.gtid_set = kA + ":1-9";
  o.gtid_full = true;
  SourceOffset back = SourceOffset::Parse(o.Serialize());
  EXPECT_EQ(back.gtid_set, o.gtid_set);
  EXPECT_TRUE(back.gtid_full);
  EXPECT_FALSE(back.empty());  // a GTID set alone is a position
  EXPECT_EQ(back.ToString(), "gtid " + kA + ":1-9");
  SourceOffset old = SourceOffset::Parse("v1\nfile\tmysql-bin.000003\npos\t120\ngtid\t" + kA + ":7\n");
  EXPECT_FALSE(old.gtid_full);
}

}  // namespace
}  // namespace sluice::mysql
