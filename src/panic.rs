//! Catching goroutine panics at the goroutine boundary.
//!
//! With the `std` feature and `panic = "unwind"`, a panic is caught where
//! the goroutine's closure returns and travels to the join handle. Without
//! `std` there is no unwinding to catch: the panic handler of the program
//! decides (with `panic = "abort"` the process ends with the message), and
//! an unwind that reaches goro's `extern "C"` entry aborts the process.

/// A caught panic's payload (empty without the `std` feature).
pub struct Panic {
    #[cfg(feature = "std")]
    payload: std::boxed::Box<dyn core::any::Any + Send + 'static>,
}

impl core::fmt::Debug for Panic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Panic { .. }")
    }
}

#[cfg(feature = "std")]
impl Panic {
    /// The value the goroutine panicked with.
    pub fn into_payload(self) -> std::boxed::Box<dyn core::any::Any + Send + 'static> {
        self.payload
    }

    /// The panic message, if the payload is a string.
    pub fn message(&self) -> Option<&str> {
        self.payload
            .downcast_ref::<&'static str>()
            .copied()
            .or_else(|| self.payload.downcast_ref::<std::string::String>().map(|s| s.as_str()))
    }
}

#[cfg(feature = "std")]
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| Panic { payload })
}

#[cfg(not(feature = "std"))]
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    Ok(f())
}
