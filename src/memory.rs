//! Handing memory a long-running process no longer needs back to the
//! system: what counts as its resident memory (which platforms such as
//! Heroku meter and cap) should be what it uses from now on, not what it
//! touched while starting or during its largest push.

/// Returns freed heap memory to the system. A large push (and start-up:
/// the parsed TOML document, the published table) frees hundreds of
/// megabytes in small blocks, which glibc otherwise keeps for reuse, and
/// the next push of that size may be a day away.
pub fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and shrinks the allocator's own free
    // lists; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Drops this process's mappings of the file pages it has read (its
/// executable's and its shared libraries' code and read-only data), so that
/// what ran only while starting (config parsing, TLS set-up, the first use
/// of the cron and time-zone engines, the dynamic loader's relocation
/// tables) stops counting as resident. The pages stay in the page cache;
/// what runs from now on maps back in on first use, without reading the
/// disk (the kernel maps up to 64 KiB around each page it faults in).
///
/// Only read-only file mappings none of whose pages was ever copied (no
/// relocated data) are dropped: they map back identical.
pub fn release_startup_code() {
    #[cfg(target_os = "linux")]
    {
        let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else { return };
        for (start, end) in pristine_read_only_mappings(&smaps) {
            // SAFETY: the range is a whole read-only mapping of a file with
            // no private copies, whose pages re-read from the file unchanged.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

/// The address ranges in `/proc/<pid>/smaps` that map a file read-only
/// (`r--p`, `r-xp`) and hold no anonymous (copied) page.
fn pristine_read_only_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(kb) = line.strip_prefix("Anonymous:") {
            let copied = kb.trim().trim_end_matches("kB").trim() != "0";
            if let Some(range) = current.take().filter(|_| !copied) {
                found.push(range);
            }
        } else if let Some(range) = mapping_header(line) {
            current = range;
        }
    }
    found
}

/// For a mapping's header line: `Some(Some(range))` if it maps a file
/// read-only, `Some(None)` for any other mapping, `None` for other lines.
fn mapping_header(line: &str) -> Option<Option<(usize, usize)>> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let (start, end) = (usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?);
    let perms = fields.next()?;
    let path = fields.nth(3);
    let read_only = perms == "r--p" || perms == "r-xp";
    Some((read_only && path.is_some_and(|p| p.starts_with('/'))).then_some((start, end)))
}

#[cfg(test)]
mod tests {
    use super::pristine_read_only_mappings;

    const SMAPS: &str = "\
55d0c1000000-55d0c1a00000 r--p 00000000 fd:01 1234  /app/bin/clock
Size:              10240 kB
Rss:                1600 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
55d0c1a00000-55d0c1e00000 r-xp 00200000 fd:01 1234  /app/bin/clock
Size:               4096 kB
Anonymous:             0 kB
55d0c1e00000-55d0c1f00000 r--p 00600000 fd:01 1234  /app/bin/clock
Size:               1024 kB
Anonymous:          1024 kB
55d0c1f00000-55d0c1f10000 rw-p 00700000 fd:01 1234  /app/bin/clock
Anonymous:            64 kB
55d0c2000000-55d0c2100000 rw-p 00000000 00:00 0  [heap]
Anonymous:          1024 kB
7ffd1b5e0000-7ffd1b5e2000 r-xp 00000000 00:00 0  [vdso]
Anonymous:             0 kB
7f0000000000-7f0000021000 r--p 00000000 00:00 0
Anonymous:             0 kB
";

    #[test]
    fn only_read_only_file_mappings_without_copied_pages_are_dropped() {
        assert_eq!(
            pristine_read_only_mappings(SMAPS),
            [(0x55d0c1000000, 0x55d0c1a00000), (0x55d0c1a00000, 0x55d0c1e00000)]
        );
    }
}
