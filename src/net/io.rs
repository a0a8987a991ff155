//! The `embedded-io` traits for goro's byte streams.
//!
//! `embedded_io::{Read, Write}` take `&mut self`; goro's streams only need
//! `&self`, so the traits are implemented for the reference types too
//! (`&TcpStream`), letting one goroutine read through one `&TcpStream`
//! while another writes through another.

use super::{TcpStream, UnixStream};
use crate::poll::Fd;
use crate::Error;

/// `embedded_io::{ErrorType, Read, Write}` for a stream type and a shared
/// reference to it, forwarding to its inherent `read`/`write`/`write_all`
/// (`Fd::write_all` returns the count, which is dropped).
macro_rules! embedded_io_stream {
    ($ty:ty) => {
        impl embedded_io::ErrorType for $ty {
            type Error = Error;
        }
        impl embedded_io::ErrorType for &$ty {
            type Error = Error;
        }
        impl embedded_io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
                <$ty>::read(self, buf)
            }
        }
        impl embedded_io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
                <$ty>::read(self, buf)
            }
        }
        impl embedded_io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
                <$ty>::write(self, buf)
            }
            fn flush(&mut self) -> Result<(), Error> {
                Ok(())
            }
            fn write_all(&mut self, buf: &[u8]) -> Result<(), Error> {
                <$ty>::write_all(self, buf).map(|_| ())
            }
        }
        impl embedded_io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
                <$ty>::write(self, buf)
            }
            fn flush(&mut self) -> Result<(), Error> {
                Ok(())
            }
            fn write_all(&mut self, buf: &[u8]) -> Result<(), Error> {
                <$ty>::write_all(self, buf).map(|_| ())
            }
        }
    };
}

embedded_io_stream!(TcpStream);
embedded_io_stream!(UnixStream);
embedded_io_stream!(Fd);
