//! The memory allocator of the proxy process.
//!
//! glibc's malloc kept the memory of a peak (a flood of connections, a large merge) resident
//! long after it was freed; jemalloc, with background threads purging pages left unused for
//! `dirty_decay_ms`, gives it back to the system (figures: README, "Memory"). Build with
//! `--no-default-features` for the system allocator (e.g. for heap profilers that hook malloc),
//! or `--no-default-features --features mimalloc`.

#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its start (the `MALLOC_CONF` environment variable, read
/// after, may override them): purge unused pages from a background thread rather than in
/// the allocating threads, after a second unused.
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_OPTIONS: &u8 = &b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0"[0];

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
