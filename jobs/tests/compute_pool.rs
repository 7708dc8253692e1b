//! The compute pool is sized once per process: `size_compute_pool` before any parallel work
//! sets the threads the algorithms' parallel parts run on, and a later call reports the size
//! in effect. (Its own test binary: rayon's global pool is per process.)

use rayon::prelude::*;

#[test]
fn the_compute_pool_has_the_size_asked_for_and_keeps_it() {
    assert_eq!(jobs::worker::size_compute_pool(1), 1);
    assert_eq!(rayon::current_num_threads(), 1);
    // The parallel parts run on that one thread.
    let threads: std::collections::HashSet<String> = (0..64)
        .into_par_iter()
        .map(|_| std::thread::current().name().unwrap_or("?").to_string())
        .collect();
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert!(
        threads.iter().all(|t| t.starts_with("stix-compute-")),
        "{threads:?}"
    );
    // Sized once: a second call cannot grow it and says so.
    assert_eq!(jobs::worker::size_compute_pool(4), 1);
}
