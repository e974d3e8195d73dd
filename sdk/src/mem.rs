//! `memcmp` and `bcmp` for Wasm guests, eight bytes at a time.
//!
//! In a `wasm32` build every string comparison is a call to `memcmp` (LLVM
//! does not expand small comparisons inline for Wasm), and the C library's
//! `memcmp` compares one byte per loop iteration, each iteration also paying
//! the host's interruption check. JSON object lookups compare keys all the
//! time, so this was the largest single cost of mapping a catalog in the
//! sandbox. The symbols below take the place of the C library's in adapter
//! components; native builds keep their platform's `memcmp`.

/// Compare `n` bytes at `a` and `b` like C's `memcmp`: negative, zero or
/// positive as the first differing byte (unsigned) of `a` is less, equal or
/// greater.
///
/// # Safety
///
/// `a` and `b` must be valid for reads of `n` bytes.
#[inline]
unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: `i + 8 <= n` and the caller guarantees `n` readable bytes.
        let (x, y) = unsafe {
            (
                u64::from_le_bytes(a.add(i).cast::<[u8; 8]>().read_unaligned()),
                u64::from_le_bytes(b.add(i).cast::<[u8; 8]>().read_unaligned()),
            )
        };
        if x != y {
            // Little-endian: the lowest differing bit is in the first
            // differing byte.
            let at = i + (x ^ y).trailing_zeros() as usize / 8;
            // SAFETY: `at < i + 8 <= n`.
            return unsafe { i32::from(*a.add(at)) - i32::from(*b.add(at)) };
        }
        i += 8;
    }
    while i < n {
        // SAFETY: `i < n`.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

#[cfg(target_arch = "wasm32")]
mod symbols {
    /// C's `memcmp`, replacing the C library's in the adapter component.
    ///
    /// # Safety
    ///
    /// `a` and `b` must be valid for reads of `n` bytes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: the caller's contract is `compare`'s.
        unsafe { super::compare(a, b, n) }
    }

    /// C's `bcmp` (zero when equal), which LLVM calls for equality tests.
    ///
    /// # Safety
    ///
    /// `a` and `b` must be valid for reads of `n` bytes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: the caller's contract is `compare`'s.
        unsafe { super::compare(a, b, n) }
    }
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering;

    fn sign(a: &[u8], b: &[u8]) -> Ordering {
        assert_eq!(a.len(), b.len());
        // SAFETY: both slices hold `a.len()` bytes.
        unsafe { compare(a.as_ptr(), b.as_ptr(), a.len()) }.cmp(&0)
    }

    #[test]
    fn agrees_with_slice_ordering_at_every_length_and_position() {
        for len in 0..=40usize {
            let base: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            assert_eq!(sign(&base, &base), Ordering::Equal, "len {len}");
            for at in 0..len {
                for delta in [1u8, 0x80, 0xff] {
                    let mut other = base.clone();
                    other[at] = other[at].wrapping_add(delta);
                    // A later difference must not hide an earlier one.
                    if at + 1 < len {
                        other[len - 1] = other[len - 1].wrapping_sub(1);
                    }
                    assert_eq!(sign(&base, &other), base.cmp(&other), "len {len} at {at}");
                    assert_eq!(sign(&other, &base), other.cmp(&base), "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn reads_bytes_as_unsigned_and_handles_unaligned_starts() {
        let a = [0u8, 0x7f, 0x80, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let mut b = a;
        b[11] = 0xff;
        for start in 0..4 {
            let (x, y) = (&a[start..], &b[start..]);
            assert_eq!(sign(x, y), Ordering::Less);
            assert_eq!(sign(y, x), Ordering::Greater);
        }
        assert_eq!(sign(&[0x80], &[0x7f]), Ordering::Greater);
    }
}
