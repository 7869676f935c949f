//! New activations filled on rayon's threads, row by row or chunk by chunk, without
//! zeroing them first on one thread.

use rayon::prelude::*;

/// A new vector of `len` values, row by row on the threads: `row(i)` gives the values
/// of row `i` (`row_len` of them). The memory is not zeroed first, since every value
/// is written (zeroing new activations shows in profiles: BENCHMARKS.md). Panics if a
/// row comes out short.
pub fn filled<I: Iterator<Item = f32>>(
    len: usize,
    row_len: usize,
    row: impl Fn(usize) -> I + Sync,
) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    values.spare_capacity_mut()[..len]
        .par_chunks_mut(row_len.max(1))
        .enumerate()
        .for_each(|(i, out)| {
            let mut written = 0;
            for (o, v) in out.iter_mut().zip(row(i)) {
                o.write(v);
                written += 1;
            }
            assert_eq!(written, out.len(), "row {i} came out short");
        });
    // SAFETY: every row was written in full (the assert above), and `len` is within
    // the capacity.
    unsafe { values.set_len(len) };
    values
}

/// A new activation of `len` floats, zeroed and filled one `chunk` (one image, or a
/// block of them) at a time on the threads: `f(state, i, chunk i)` with a `state` from
/// `init` per thread, its results returned in order. Each chunk is zeroed by the thread
/// that fills it, just before: zeroing whole activations up front would run on the
/// caller's thread alone, with the other cores idle.
pub fn zeroed_chunks<T, R: Send>(
    (len, chunk): (usize, usize),
    init: impl Fn() -> T + Sync + Send,
    f: impl Fn(&mut T, usize, &mut [f32]) -> R + Sync + Send,
) -> (Vec<f32>, Vec<R>) {
    let mut values = Vec::with_capacity(len);
    let results = values.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .map_init(init, |state, (i, out)| {
            out.iter_mut().for_each(|o| {
                o.write(0.0);
            });
            // SAFETY: every element of `out` was just written.
            let out = unsafe { &mut *(out as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) };
            f(state, i, out)
        })
        .collect();
    // SAFETY: every chunk was written (zeroed) in full, and `len` is within the capacity.
    unsafe { values.set_len(len) };
    (values, results)
}
