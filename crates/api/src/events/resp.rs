//! The subscribing side of Redis pub/sub, read with a bound: a message longer than
//! [`MAX_EVENT_BYTES`] is skipped as it streams in, never held (the Redis client reads a message
//! whole, whatever its size, before it can be looked at: up to Redis's own 512 MB bulk limit).
//!
//! RESP2, as `SUBSCRIBE` speaks it: `AUTH` when the URL holds a password, `SUBSCRIBE`, then
//! `message` pushes. Where to connect and how (TCP, TLS, a Unix socket) is the Redis client's
//! reading of the URL; TLS is rustls on ring with the same roots as the publishing connection.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::MAX_EVENT_BYTES;

/// The longest RESP header line read (a type byte, a length or a short status, CRLF).
const LINE: usize = 128;
/// The longest message kind or channel name read (`message`, `trainers:events`).
const NAME: usize = 64;

/// Where the subscribing connection goes, and with which credentials.
#[derive(Clone)]
pub struct Target {
    place: Place,
    username: Option<String>,
    password: Option<String>,
}

#[derive(Clone)]
enum Place {
    Tcp(String, u16),
    Tls(String, u16, Arc<ClientConfig>),
    Unix(PathBuf),
}

/// Why a URL cannot be subscribed to (never with the URL's secrets).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("#insecure (no certificate check) is not supported")]
    Insecure,
    #[error("this kind of Redis address is not supported")]
    Unsupported,
    #[error("no TLS configuration: {0}")]
    Tls(String),
}

impl Target {
    /// The subscribing end of `info` (the Redis client's reading of the URL); `ca`, the
    /// certificates that alone are trusted for TLS, else the system's roots.
    pub fn new(
        info: &redis::ConnectionInfo,
        ca: Option<&[CertificateDer<'static>]>,
    ) -> Result<Target, TargetError> {
        let place = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => Place::Tcp(host.clone(), *port),
            redis::ConnectionAddr::TcpTls { insecure: true, .. } => {
                return Err(TargetError::Insecure)
            }
            redis::ConnectionAddr::TcpTls { host, port, .. } => {
                Place::Tls(host.clone(), *port, Arc::new(tls_config(ca)?))
            }
            redis::ConnectionAddr::Unix(path) => Place::Unix(path.clone()),
            _ => return Err(TargetError::Unsupported),
        };
        let settings = info.redis_settings();
        Ok(Target {
            place,
            username: settings.username().map(str::to_string),
            password: settings.password().map(str::to_string),
        })
    }

    /// Connects, authenticates, and subscribes to `channel`.
    pub async fn subscribe(&self, channel: &str) -> io::Result<Subscription> {
        let stream: Box<dyn Stream> = match &self.place {
            Place::Tcp(host, port) => {
                let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                tcp.set_nodelay(true)?;
                Box::new(tcp)
            }
            Place::Tls(host, port, config) => {
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                tcp.set_nodelay(true)?;
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                Box::new(connector.connect(name, tcp).await?)
            }
            #[cfg(unix)]
            Place::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
            #[cfg(not(unix))]
            Place::Unix(_) => return Err(io::Error::other("no Unix sockets here")),
        };
        let mut connection = tokio::io::BufReader::with_capacity(MAX_EVENT_BYTES + LINE, stream);
        if let Some(password) = &self.password {
            let mut auth: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(username) = &self.username {
                auth.push(username.as_bytes());
            }
            auth.push(password.as_bytes());
            send(&mut connection, &auth).await?;
            match read_element(&mut connection, NAME).await? {
                Element::Simple => {}
                Element::Error(e) => return Err(io::Error::other(format!("AUTH: {e}"))),
                _ => return Err(unexpected("an answer to AUTH")),
            }
        }
        send(&mut connection, &[b"SUBSCRIBE", channel.as_bytes()]).await?;
        match read_push(&mut connection).await? {
            Push::Subscribed => Ok(Subscription { connection }),
            _ => Err(unexpected("an answer to SUBSCRIBE")),
        }
    }
}

/// rustls on ring, trusting `ca` only, or else the system's roots.
fn tls_config(ca: Option<&[CertificateDer<'static>]>) -> Result<ClientConfig, TargetError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(ca) => {
            for certificate in ca {
                roots
                    .add(certificate.clone())
                    .map_err(|e| TargetError::Tls(e.to_string()))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TargetError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A subscribed connection: [`Subscription::next`] yields its messages.
pub struct Subscription {
    connection: tokio::io::BufReader<Box<dyn Stream>>,
}

/// A message of the channel: its payload, or the length of one too long to read.
pub enum Message {
    Payload(Vec<u8>),
    TooLarge(usize),
}

impl Subscription {
    /// The next message; an error when the connection ends or Redis says what was not expected.
    pub async fn next(&mut self) -> io::Result<Message> {
        loop {
            match read_push(&mut self.connection).await? {
                Push::Message(message) => return Ok(message),
                Push::Subscribed => {}
            }
        }
    }
}

enum Push {
    Subscribed,
    Message(Message),
}

/// One push of a subscribed connection: `subscribe` or `message`.
async fn read_push<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Push> {
    match read_element(reader, NAME).await? {
        Element::Array(3) => {}
        Element::Error(e) => return Err(io::Error::other(format!("Redis: {e}"))),
        _ => return Err(unexpected("a pub/sub push")),
    }
    let kind = read_element(reader, NAME).await?;
    let _channel = read_element(reader, NAME).await?;
    let last = read_element(reader, MAX_EVENT_BYTES).await?;
    match (kind, last) {
        (Element::Bulk(kind), Element::Integer) if kind == b"subscribe" => Ok(Push::Subscribed),
        (Element::Bulk(kind), Element::Bulk(payload)) if kind == b"message" => {
            Ok(Push::Message(Message::Payload(payload)))
        }
        (Element::Bulk(kind), Element::TooLarge(length)) if kind == b"message" => {
            Ok(Push::Message(Message::TooLarge(length)))
        }
        _ => Err(unexpected("a subscribe or message push")),
    }
}

/// One RESP2 element, not nested.
enum Element {
    Simple,
    Error(String),
    Integer,
    Bulk(Vec<u8>),
    /// A bulk string longer than the limit: skipped, not read.
    TooLarge(usize),
    Null,
    Array(i64),
}

/// Reads one element; a bulk string over `limit` bytes is skipped as it streams in.
async fn read_element<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> io::Result<Element> {
    let line = read_line(reader).await?;
    let (kind, rest) = line
        .split_first()
        .ok_or_else(|| unexpected("a RESP type"))?;
    let text = || String::from_utf8_lossy(rest).into_owned();
    let number = || -> io::Result<i64> {
        std::str::from_utf8(rest)
            .ok()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| unexpected("a number"))
    };
    Ok(match kind {
        b'+' => Element::Simple,
        b'-' => Element::Error(text()),
        b':' => {
            number()?;
            Element::Integer
        }
        b'*' => Element::Array(number()?),
        b'$' => {
            let Ok(length) = usize::try_from(number()?) else {
                return Ok(Element::Null);
            };
            if length > limit {
                skip(reader, length.saturating_add(2)).await?;
                return Ok(Element::TooLarge(length));
            }
            let mut bulk = vec![0; length + 2];
            reader.read_exact(&mut bulk).await?;
            if bulk.split_off(length) != b"\r\n" {
                return Err(unexpected("CRLF after a bulk string"));
            }
            Element::Bulk(bulk)
        }
        _ => return Err(unexpected("a RESP2 type")),
    })
}

/// A header line without its CRLF, at most [`LINE`] bytes.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::with_capacity(16);
    loop {
        let byte = reader.read_u8().await?;
        if byte == b'\n' {
            if line.pop() != Some(b'\r') {
                return Err(unexpected("CRLF"));
            }
            return Ok(line);
        }
        if line.len() == LINE {
            return Err(unexpected("a short header line"));
        }
        line.push(byte);
    }
}

/// Consumes `count` bytes without keeping them.
async fn skip<R: AsyncBufRead + Unpin>(reader: &mut R, mut count: usize) -> io::Result<()> {
    while count > 0 {
        let buffered = reader.fill_buf().await?;
        if buffered.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let taken = buffered.len().min(count);
        reader.consume(taken);
        count -= taken;
    }
    Ok(())
}

/// Writes one command as a RESP array of bulk strings.
async fn send<W: AsyncWrite + Unpin>(writer: &mut W, args: &[&[u8]]) -> io::Result<()> {
    let mut command = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        command.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        command.extend_from_slice(arg);
        command.extend_from_slice(b"\r\n");
    }
    writer.write_all(&command).await?;
    writer.flush().await
}

fn unexpected(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("Redis sent other than {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pushes(wire: &[u8]) -> Vec<String> {
        let mut reader = tokio::io::BufReader::with_capacity(64, wire);
        let mut seen = Vec::new();
        loop {
            match read_push(&mut reader).await {
                Ok(Push::Subscribed) => seen.push("subscribed".to_string()),
                Ok(Push::Message(Message::Payload(p))) => {
                    seen.push(String::from_utf8_lossy(&p).into_owned())
                }
                Ok(Push::Message(Message::TooLarge(n))) => seen.push(format!("too large: {n}")),
                Err(e) => {
                    seen.push(format!("error: {:?}", e.kind()));
                    return seen;
                }
            }
        }
    }

    #[tokio::test]
    async fn messages_are_read_and_oversized_ones_skipped_unread() {
        let big = "x".repeat(MAX_EVENT_BYTES + 1);
        let wire = format!(
            "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n\
             *3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n\
             *3\r\n$7\r\nmessage\r\n$1\r\nc\r\n${}\r\n{big}\r\n\
             *3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$0\r\n\r\n\
             *3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$5\r\nshort\r\n",
            big.len()
        );
        assert_eq!(
            pushes(wire.as_bytes()).await,
            [
                "subscribed".to_string(),
                "hi".into(),
                format!("too large: {}", MAX_EVENT_BYTES + 1),
                "".into(),
                "short".into(),
                "error: UnexpectedEof".into(),
            ]
        );
        let long_line = format!("*{}\r\n", "1".repeat(LINE + 1));
        assert_eq!(pushes(long_line.as_bytes()).await, ["error: InvalidData"]);
        assert_eq!(
            pushes(b"*3\r\n$7\r\nmessage").await,
            ["error: UnexpectedEof"]
        );
        assert_eq!(
            pushes(b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi!!").await,
            ["error: InvalidData"]
        );
    }
}
