//! TLS: the certificate `serve --tls-cert/--tls-key` serves with, and `trainers tls create`, which
//! makes a local certificate authority and a certificate for `localhost`, `127.0.0.1` and `::1`,
//! so that a developer's browser and Node trust the local server without other tools.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("cannot read the TLS private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the TLS certificate and key do not go together: {0}")]
    Config(#[from] tokio_rustls::rustls::Error),
    #[error("{0} exists already: remove it, or pass another --dir")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make the certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The server's TLS configuration from a PEM certificate chain and its PEM private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificate {
            path: cert.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.to_path_buf(),
            reason: "no PEM certificate in it".into(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, private_key)?;
    // HTTP/1.1 only: WebSockets upgrade from it, and it is all the server speaks.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The files `trainers tls create` writes.
pub struct LocalCertificates {
    /// The local CA's certificate: the one file to trust.
    pub ca: PathBuf,
    pub ca_key: PathBuf,
    /// The server's certificate and key, for `--tls-cert` and `--tls-key`.
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl LocalCertificates {
    pub fn in_dir(dir: &Path) -> Self {
        LocalCertificates {
            ca: dir.join("ca.pem"),
            ca_key: dir.join("ca-key.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

/// The names the local certificate is for.
pub const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Makes a local CA and a certificate it signs for [`LOCAL_NAMES`], in `dir`. Refuses to
/// overwrite: a CA already trusted must not change under its user.
pub fn create_local(dir: &Path) -> Result<LocalCertificates, TlsError> {
    let files = LocalCertificates::in_dir(dir);
    for path in [&files.ca, &files.ca_key, &files.cert, &files.key] {
        if path.exists() {
            return Err(TlsError::Exists(path.clone()));
        }
    }
    let now = time::OffsetDateTime::now_utc();
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "Trainers API local development CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = now + time::Duration::days(3650);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;

    let mut leaf = CertificateParams::new(LOCAL_NAMES.map(String::from).to_vec())?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(825);
    let leaf_key = KeyPair::generate()?;
    let ca_pem = ca_cert.pem();
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    private_dir(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write(&files.ca, &ca_pem, false)?;
    write(&files.ca_key, &ca_key_pem, true)?;
    write(&files.cert, &leaf_cert.pem(), false)?;
    write(&files.key, &leaf_key.serialize_pem(), true)?;
    Ok(files)
}

/// Makes `dir` (mode 0700 when it is new: it holds private keys) if it is missing.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// Writes a new file (never through a symbolic link: `create_new` is `O_CREAT|O_EXCL`) and
/// syncs it; a secret one 0600 and a public one 0644, whatever the umask.
fn write(path: &Path, contents: &str, secret: bool) -> Result<(), TlsError> {
    use std::io::Write;
    let mode = if secret { 0o600 } else { 0o644 };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    options
        .open(path)
        .and_then(|mut file| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
            #[cfg(not(unix))]
            let _ = mode;
            file.write_all(contents.as_bytes())?;
            file.sync_all()
        })
        .map_err(|source| TlsError::Write {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_certificate_serves_and_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let files = create_local(dir.path()).expect("certificates");
        server_config(&files.cert, &files.key).expect("a server configuration");
        assert!(matches!(create_local(dir.path()), Err(TlsError::Exists(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key)
                .expect("the key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");
        }
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let one = tempfile::tempdir().expect("a temporary directory");
        let other = tempfile::tempdir().expect("a temporary directory");
        let a = create_local(one.path()).expect("certificates");
        let b = create_local(other.path()).expect("certificates");
        assert!(matches!(
            server_config(&a.cert, &b.key),
            Err(TlsError::Config(_))
        ));
        assert!(matches!(
            server_config(&a.key, &a.key),
            Err(TlsError::Certificate { .. })
        ));
    }
}
