//! Host integration (the `std` feature): `std::io::Read`/`Write` for goro's
//! byte streams and `From<goro::Error> for std::io::Error`. This is the
//! only file of `net` that knows about `std`.

use super::{TcpStream, ToSocketAddr, UnixStream};
use crate::poll::Fd;
use crate::Error;
use core::net::SocketAddr;
use std::io;
use std::string::String;

/// `Os(errno)` becomes `io::Error::from_raw_os_error` (std picks the kind);
/// the others keep the goro error as the payload (`get_ref`/`downcast`),
/// with the kind described at `embedded_io::Error for goro::Error`:
/// `TimedOut` is `ErrorKind::TimedOut`, `Closed` is `NotConnected`,
/// `ArenaFull` is `OutOfMemory`, `InvalidInput` is `InvalidInput`.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Os(errno) => io::Error::from_raw_os_error(errno),
            e => io::Error::new(embedded_io::Error::kind(&e).into(), e),
        }
    }
}

impl ToSocketAddr for String {
    fn to_socket_addr(&self) -> Result<SocketAddr, Error> {
        self.as_str().to_socket_addr()
    }
}

/// `std::io::{Read, Write}` for a stream type and a shared reference to it,
/// forwarding to its inherent methods (whose vectored calls take std's
/// `IoSlice`s as they are).
macro_rules! std_io_stream {
    ($ty:ty) => {
        impl io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                Ok(<$ty>::read(self, buf)?)
            }
            fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
                Ok(<$ty>::read_vectored(self, bufs)?)
            }
        }
        impl io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                Ok(<$ty>::read(self, buf)?)
            }
            fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
                Ok(<$ty>::read_vectored(self, bufs)?)
            }
        }
        impl io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(<$ty>::write(self, buf)?)
            }
            fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
                Ok(<$ty>::write_vectored(self, bufs)?)
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                Ok(<$ty>::write_all(self, buf)?)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        impl io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(<$ty>::write(self, buf)?)
            }
            fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
                Ok(<$ty>::write_vectored(self, bufs)?)
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                Ok(<$ty>::write_all(self, buf)?)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
    };
}

std_io_stream!(TcpStream);
std_io_stream!(UnixStream);

/// A plain polled fd (a pipe, a character device): `read`/`write` syscalls.
impl io::Read for Fd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(Fd::read(self, buf)?)
    }
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        Ok(Fd::read_vectored(self, bufs)?)
    }
}

impl io::Read for &Fd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(Fd::read(self, buf)?)
    }
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        Ok(Fd::read_vectored(self, bufs)?)
    }
}

impl io::Write for Fd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(Fd::write(self, buf)?)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Fd::write_all(self, buf)?;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Write for &Fd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(Fd::write(self, buf)?)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Fd::write_all(self, buf)?;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
