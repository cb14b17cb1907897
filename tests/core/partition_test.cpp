// The routing rule of a partitioned database (server/core/partition.hpp): organizations' sizes
// under Zipf and uniform, partition_by org and doc, and the hash pinned (a change would send
// stored documents to another partition).
#include "server/core/partition.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

namespace convlab {
namespace {

PartitionSpec spec(std::uint32_t partitions, PartitionSpec::By by, std::uint32_t orgs, PartitionSpec::OrgSize size,
                   double exponent = 1.0) {
  PartitionSpec s;
  s.partitions = partitions;
  s.by = by;
  s.organizations = orgs;
  s.org_size = size;
  s.org_exponent = exponent;
  return s;
}

TEST(OrgSizes, ZipfByLargestRemainder) {
  // 4 organizations, 20 documents, s = 1: each owns one, the other 16 by weights 1, 1/2, 1/3,
  // 1/4 (shares 7.68, 3.84, 2.56, 1.92: floors 7, 3, 2, 1, the 3 left to the largest remainders
  // .92, .84, .68).
  const auto s = spec(1, PartitionSpec::By::kOrg, 4, PartitionSpec::OrgSize::kZipf, 1.0);
  EXPECT_EQ(org_sizes(s, 20), (std::vector<std::uint32_t>{9, 5, 3, 3}));
  // A steeper exponent gives the first organization more.
  const auto steep = spec(1, PartitionSpec::By::kOrg, 4, PartitionSpec::OrgSize::kZipf, 2.0);
  EXPECT_EQ(org_sizes(steep, 20), (std::vector<std::uint32_t>{12, 4, 2, 2}));
  // Exponent 0: every weight 1, as uniform.
  const auto flat = spec(1, PartitionSpec::By::kOrg, 4, PartitionSpec::OrgSize::kZipf, 0.0);
  EXPECT_EQ(org_sizes(flat, 20), (std::vector<std::uint32_t>{5, 5, 5, 5}));
}

TEST(OrgSizes, UniformSpreadsTheRemainderFromTheFirst) {
  const auto s = spec(1, PartitionSpec::By::kOrg, 3, PartitionSpec::OrgSize::kUniform);
  EXPECT_EQ(org_sizes(s, 10), (std::vector<std::uint32_t>{4, 3, 3}));
  EXPECT_EQ(org_sizes(s, 3), (std::vector<std::uint32_t>{1, 1, 1}));
}

TEST(OrgSizes, EveryOrganizationAtLeastOneAndTheSumIsTheDocuments) {
  for (const auto size : {PartitionSpec::OrgSize::kZipf, PartitionSpec::OrgSize::kUniform}) {
    for (double exponent : {0.5, 1.0, 1.5, 3.0}) {
      for (std::uint32_t orgs = 1; orgs <= 40; orgs += 3) {
        for (std::uint32_t docs = orgs; docs <= 400; docs += 37) {
          const auto sizes = org_sizes(spec(1, PartitionSpec::By::kOrg, orgs, size, exponent), docs);
          ASSERT_EQ(sizes.size(), orgs);
          EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), 0U), docs) << orgs << " orgs " << docs << " docs";
          EXPECT_GE(*std::min_element(sizes.begin(), sizes.end()), 1U);
          // Zipf's sizes never grow with the organization's rank.
          if (size == PartitionSpec::OrgSize::kZipf) {
            for (std::size_t i = 1; i < sizes.size(); ++i) EXPECT_LE(sizes[i], sizes[i - 1] + 1) << i;
          }
        }
      }
    }
  }
}

TEST(PartitionMap, ByOrgKeepsAnOrganizationTogether) {
  // Organizations 0..3 own documents [0, 9), [9, 14), [14, 17), [17, 20); org % 2.
  const PartitionMap m(spec(2, PartitionSpec::By::kOrg, 4, PartitionSpec::OrgSize::kZipf, 1.0), 20);
  EXPECT_EQ(m.partitions(), 2U);
  EXPECT_EQ(m.organizations(), 4U);
  for (std::uint32_t d = 0; d < 20; ++d) {
    const std::uint32_t org = d < 9 ? 0 : d < 14 ? 1 : d < 17 ? 2 : 3;
    EXPECT_EQ(m.org_of(d), org) << d;
    EXPECT_EQ(m.partition_of(d), org % 2) << d;
  }
}

TEST(PartitionMap, ByDocIsTheHashOfTheIdAlone) {
  const PartitionMap m(spec(4, PartitionSpec::By::kDoc, 4, PartitionSpec::OrgSize::kZipf, 2.0), 1000);
  std::vector<std::uint32_t> per(4, 0);
  for (std::uint32_t d = 0; d < 1000; ++d) {
    EXPECT_EQ(m.partition_of(d), doc_hash_partition(d, 4)) << d;
    ++per[m.partition_of(d)];
  }
  // The organizations do not matter: every partition gets about a quarter.
  for (std::uint32_t p = 0; p < 4; ++p) {
    EXPECT_GE(per[p], 220U) << p;
    EXPECT_LE(per[p], 280U) << p;
  }
  // Pinned: splitmix64 of the id, modulo the partitions.
  EXPECT_EQ(doc_hash_partition(0, 4), 3U);
  EXPECT_EQ(doc_hash_partition(1, 4), 1U);
  EXPECT_EQ(doc_hash_partition(2, 4), 2U);
  EXPECT_EQ(doc_hash_partition(12345, 7), 5U);
}

TEST(PartitionMap, NoOrganizationsEveryDocumentIsItsOwn) {
  const PartitionMap m(spec(3, PartitionSpec::By::kOrg, 0, PartitionSpec::OrgSize::kZipf), 7);
  EXPECT_EQ(m.organizations(), 7U);
  for (std::uint32_t d = 0; d < 7; ++d) {
    EXPECT_EQ(m.org_of(d), d);
    EXPECT_EQ(m.partition_of(d), d % 3);
  }
}

TEST(PartitionMap, OnePartitionHoldsEverything) {
  for (const auto by : {PartitionSpec::By::kOrg, PartitionSpec::By::kDoc}) {
    const PartitionMap m(spec(1, by, 5, PartitionSpec::OrgSize::kZipf), 50);
    for (std::uint32_t d = 0; d < 50; ++d) EXPECT_EQ(m.partition_of(d), 0U);
  }
}

TEST(PartitionMap, RouteIsPartitionOfInsideTheMapAndEachDocumentItsOwnOrganizationPastIt) {
  const PartitionMap org(spec(4, PartitionSpec::By::kOrg, 16, PartitionSpec::OrgSize::kZipf, 1.5), 80);
  const PartitionMap doc(spec(4, PartitionSpec::By::kDoc, 16, PartitionSpec::OrgSize::kZipf, 1.5), 80);
  for (std::uint32_t d = 0; d < 80; ++d) {
    EXPECT_EQ(org.route(d), org.partition_of(d)) << d;
    EXPECT_EQ(doc.route(d), doc.partition_of(d)) << d;
  }
  // Organization 0 owns the first 31 documents under row 17's spread: all on partition 0, and
  // document 31 (organization 1) on partition 1.
  EXPECT_EQ(org.route(30), 0U);
  EXPECT_EQ(org.route(31), 1U);
  // Past the map: its own organization under org, the hash under doc (pinned).
  EXPECT_EQ(org.route(81), 1U);
  EXPECT_EQ(org.route(4000000003U), 3U);
  EXPECT_EQ(doc.route(12345), doc_hash_partition(12345, 4));
  EXPECT_EQ(doc.route(4000000003U), doc_hash_partition(4000000003U, 4));
}

TEST(PartitionMap, DescribeNamesEveryInputOfTheRuleAndOnlyThose) {
  const auto zipf = spec(4, PartitionSpec::By::kOrg, 16, PartitionSpec::OrgSize::kZipf, 1.5);
  EXPECT_EQ(describe(zipf, 80), "4 partitions by org; 80 documents of 16 organizations, zipf 1.5");
  EXPECT_EQ(describe(spec(2, PartitionSpec::By::kOrg, 3, PartitionSpec::OrgSize::kUniform, 1.5), 10),
            "2 partitions by org; 10 documents of 3 organizations, uniform");
  EXPECT_EQ(describe(spec(2, PartitionSpec::By::kOrg, 0, PartitionSpec::OrgSize::kZipf), 10),
            "2 partitions by org; 10 documents of one organization each");
  // Sharding by document reads neither the organizations nor the documents' count.
  EXPECT_EQ(describe(spec(3, PartitionSpec::By::kDoc, 16, PartitionSpec::OrgSize::kZipf, 1.5), 80), "3 partitions by doc");
  EXPECT_EQ(describe(spec(3, PartitionSpec::By::kDoc, 0, PartitionSpec::OrgSize::kUniform), 7), "3 partitions by doc");
  // Any change to an input of the org rule changes the words.
  EXPECT_NE(describe(spec(4, PartitionSpec::By::kOrg, 16, PartitionSpec::OrgSize::kZipf, 1.25), 80), describe(zipf, 80));
  EXPECT_NE(describe(zipf, 81), describe(zipf, 80));
}

}  // namespace
}  // namespace convlab
