#pragma once

// The simulator's working set is hundreds of MiB of replicas touched at random (8 servers x 50
// documents plus 200 client replicas in the naive hour), so it spends much of its time on TLB
// misses and page faults. glibc can back its heap with transparent huge pages (the tunable
// glibc.malloc.hugetlb=1, glibc >= 2.35), but reads its tunables only when a process starts.
//
// use_malloc_huge_pages(argv), called first thing in main(), re-executes the program once
// with that tunable added to GLIBC_TUNABLES. It does nothing when the tunable is already set
// (so it runs at most once, and child processes inherit it), when CONVLAB_MALLOC_HUGE_PAGES=0,
// under valgrind, when the kernel has transparent huge pages off, or when the re-exec fails.
// Results do not depend on it: only speed and resident memory (bench/README.md, "Simulator").
namespace convlab::sim {

void use_malloc_huge_pages(char** argv);

}  // namespace convlab::sim
