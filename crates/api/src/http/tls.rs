//! TLS: the certificate `serve --tls-cert/--tls-key` serves with, and `trainers tls create`, which
//! makes a local certificate authority and a certificate for `localhost`, `127.0.0.1` and `::1`,
//! so that a developer's browser and Node trust the local server without other tools.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints,
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

/// How long the local CA is valid. A CA its user trusts is a key that can vouch for names;
/// it may not outlive a year.
pub const CA_DAYS: i64 = 365;
/// How long the certificate it signs is valid.
pub const LEAF_DAYS: i64 = 90;

/// Makes a local CA and a certificate it signs for [`LOCAL_NAMES`], in `dir`. Refuses to
/// overwrite: a CA already trusted must not change under its user.
///
/// The CA is constrained to what it is for, so that trusting it trusts nothing else: valid
/// [`CA_DAYS`] days; a critical name constraint permits only `localhost`, `127.0.0.1/32` and
/// `::1/128` (a certificate its key signed for any other name is refused by browsers, Node and
/// rustls, even if the key leaks); `pathlen:0` (it signs no other CA); it may sign certificates
/// and revocation lists only. The certificate is valid [`LEAF_DAYS`] days.
pub fn create_local(dir: &Path) -> Result<LocalCertificates, TlsError> {
    let files = LocalCertificates::in_dir(dir);
    for path in [&files.ca, &files.ca_key, &files.cert, &files.key] {
        if path.exists() {
            return Err(TlsError::Exists(path.clone()));
        }
    }
    // An hour back: a clock a little behind still finds them valid.
    let start = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "Trainers API local development CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.name_constraints = Some(NameConstraints {
        permitted_subtrees: LOCAL_NAMES.iter().map(|name| permitted(name)).collect(),
        excluded_subtrees: Vec::new(),
    });
    ca.not_before = start;
    ca.not_after = start + time::Duration::days(CA_DAYS);
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
    leaf.not_before = start;
    leaf.not_after = start + time::Duration::days(LEAF_DAYS);
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

/// The name constraint that permits `name` alone: an IP address as its /32 or /128, else the
/// DNS name (which permits its subdomains too, as RFC 5280 says; `localhost` has none).
fn permitted(name: &str) -> GeneralSubtree {
    match name.parse::<std::net::IpAddr>() {
        Ok(ip) => {
            let bits = if ip.is_ipv4() { 32 } else { 128 };
            GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(ip, bits))
        }
        Err(_) => GeneralSubtree::DnsName(name.to_string()),
    }
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
    use tokio_rustls::rustls::client::danger::ServerCertVerifier;
    use tokio_rustls::rustls::client::WebPkiServerVerifier;
    use tokio_rustls::rustls::pki_types::{ServerName, UnixTime};
    use tokio_rustls::rustls::RootCertStore;
    use x509_parser::extensions::GeneralName;

    const DAY: i64 = 24 * 3600;

    fn pem(path: &Path) -> Vec<u8> {
        std::fs::read(path).expect("the certificate")
    }

    #[test]
    fn the_local_ca_is_short_lived_and_constrained_to_the_names_it_signs_for() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let files = create_local(dir.path()).expect("certificates");
        let ca_pem = pem(&files.ca);
        let (_, ca_pem) = x509_parser::pem::parse_x509_pem(&ca_pem).expect("PEM");
        let ca = ca_pem.parse_x509().expect("a certificate");

        let validity = ca.validity();
        let days = validity.not_after.timestamp() - validity.not_before.timestamp();
        assert!(days <= CA_DAYS * DAY, "the CA is valid {} days", days / DAY);

        let basic = ca
            .basic_constraints()
            .expect("parses")
            .expect("basicConstraints");
        assert!(basic.critical && basic.value.ca);
        assert_eq!(basic.value.path_len_constraint, Some(0));

        let usage = ca.key_usage().expect("parses").expect("keyUsage");
        assert!(usage.critical);
        assert!(usage.value.key_cert_sign() && usage.value.crl_sign());
        assert_eq!(
            usage.value.flags,
            (1 << 5) | (1 << 6),
            "keyCertSign and cRLSign only"
        );

        let constraints = ca
            .name_constraints()
            .expect("parses")
            .expect("nameConstraints");
        assert!(constraints.critical, "a critical name constraint");
        assert!(constraints.value.excluded_subtrees.is_none());
        let permitted: Vec<String> = constraints
            .value
            .permitted_subtrees
            .as_ref()
            .expect("permitted names")
            .iter()
            .map(|t| match &t.base {
                GeneralName::DNSName(name) => name.to_string(),
                GeneralName::IPAddress(bytes) => format!("{bytes:?}"),
                other => panic!("an unexpected constraint {other:?}"),
            })
            .collect();
        let mut v6 = [0u8; 32];
        v6[15] = 1;
        v6[16..].fill(255);
        assert_eq!(
            permitted,
            [
                "localhost".to_string(),
                format!("{:?}", [127u8, 0, 0, 1, 255, 255, 255, 255]),
                format!("{v6:?}"),
            ]
        );

        let leaf_pem = pem(&files.cert);
        let (_, leaf_pem) = x509_parser::pem::parse_x509_pem(&leaf_pem).expect("PEM");
        let leaf = leaf_pem.parse_x509().expect("a certificate");
        let leaf_validity = leaf.validity();
        let leaf_days = leaf_validity.not_after.timestamp() - leaf_validity.not_before.timestamp();
        assert!(leaf_days <= LEAF_DAYS * DAY, "{} days", leaf_days / DAY);
        assert!(leaf_validity.not_after.timestamp() <= validity.not_after.timestamp());
        let leaf_basic = leaf.basic_constraints().expect("parses");
        assert!(leaf_basic.is_none_or(|b| !b.value.ca), "the leaf is no CA");
    }

    /// The attack: the local CA's key (a file on a developer's disk) signs a certificate for a
    /// real site. A client that trusts the CA must refuse it.
    #[test]
    fn a_certificate_the_local_ca_signs_for_another_name_is_refused_by_its_trusters() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let files = create_local(dir.path()).expect("certificates");
        let ca_key = KeyPair::from_pem(&std::fs::read_to_string(&files.ca_key).expect("the key"))
            .expect("a key");
        let ca_pem = std::fs::read_to_string(&files.ca).expect("the CA");
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).expect("the CA as issuer");

        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("the CA's DER"))
            .expect("a root");
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(ring::default_provider()),
        )
        .build()
        .expect("a verifier");
        let verify = |names: Vec<String>, server: &'static str| {
            let mut params = CertificateParams::new(names).expect("params");
            params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
            params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(30);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.use_authority_key_identifier_extension = true;
            let key = KeyPair::generate().expect("a key");
            let cert = params.signed_by(&key, &issuer).expect("signed");
            verifier.verify_server_cert(
                cert.der(),
                &[],
                &ServerName::try_from(server).expect("a name"),
                &[],
                UnixTime::now(),
            )
        };
        // What it is for: accepted.
        verify(vec!["localhost".into()], "localhost").expect("localhost is the CA's to sign");
        verify(vec!["127.0.0.1".into()], "127.0.0.1").expect("127.0.0.1 too");
        // Anything else: refused, whatever else the certificate names.
        for (names, server) in [
            (vec!["bank.example".to_string()], "bank.example"),
            (
                vec!["localhost".to_string(), "bank.example".to_string()],
                "bank.example",
            ),
            (vec!["10.0.0.1".to_string()], "10.0.0.1"),
            (
                vec!["localhost.bank.example".to_string()],
                "localhost.bank.example",
            ),
        ] {
            let refused = verify(names.clone(), server);
            assert!(refused.is_err(), "{names:?} for {server} was accepted");
        }
    }

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
