//! A few pooled connections, one transaction at a time on each, with their prepared
//! statements cached; and the URL shown without its password.

use std::collections::HashMap;
use std::sync::Mutex;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use crate::error::{QueueError, Result};

/// Run `f` where the blocking PostgreSQL client may block: on this thread, or — when this
/// thread drives an async runtime (the CLI's), where the client's own `block_on` would panic —
/// on a short-lived thread of its own, waiting for it.
pub(crate) fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// A value whose drop may block (a client closing its connection): dropped off the runtime.
pub(crate) struct OffRuntime<T: Send>(pub(crate) Option<T>);

impl<T: Send> Drop for OffRuntime<T> {
    fn drop(&mut self) {
        if let Some(v) = self.0.take() {
            off_runtime(move || drop(v));
        }
    }
}

impl<T: Send> std::ops::Deref for OffRuntime<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("present until dropped")
    }
}

impl<T: Send> std::ops::DerefMut for OffRuntime<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.as_mut().expect("present until dropped")
    }
}

/// The parameters of one statement.
pub(crate) type Params<'p> = [&'p (dyn ToSql + Sync)];

/// The URL with any password replaced by `***` (for messages, `status`, logs).
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let mut out = url[..scheme_end + 3].to_string();
    let authority = &rest[..auth_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(c) => {
                    out.push_str(&userinfo[..c]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[auth_end..];
    // `password=` may also be given as a query parameter.
    let (path, query) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    let mut shown = path.to_string();
    if let Some(query) = query {
        let parts: Vec<String> = query
            .split('&')
            .map(|part| {
                if part.to_ascii_lowercase().starts_with("password=") {
                    "password=***".to_string()
                } else {
                    part.to_string()
                }
            })
            .collect();
        shown.push('?');
        shown.push_str(&parts.join("&"));
    }
    out.push_str(&shown);
    out
}

/// One connection and its prepared statements.
pub(crate) struct Conn {
    pub(crate) client: OffRuntime<Client>,
    cache: HashMap<String, Statement>,
}

/// One open transaction.
pub(crate) struct Tx<'a> {
    tx: postgres::Transaction<'a>,
    cache: &'a mut HashMap<String, Statement>,
    secret: &'a Option<String>,
    /// The queue's serial prefix as read (or set) in this transaction.
    pub(crate) prefix: Option<Option<u64>>,
}

impl Tx<'_> {
    fn stmt(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).map_err(|e| pg_err(e, self.secret))?;
        self.cache.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub(crate) fn exec(&mut self, sql: &str, p: &Params<'_>) -> Result<u64> {
        let s = self.stmt(sql)?;
        self.tx.execute(&s, p).map_err(|e| pg_err(e, self.secret))
    }

    pub(crate) fn query(&mut self, sql: &str, p: &Params<'_>) -> Result<Vec<Row>> {
        let s = self.stmt(sql)?;
        self.tx.query(&s, p).map_err(|e| pg_err(e, self.secret))
    }

    pub(crate) fn opt(&mut self, sql: &str, p: &Params<'_>) -> Result<Option<Row>> {
        let s = self.stmt(sql)?;
        self.tx.query_opt(&s, p).map_err(|e| pg_err(e, self.secret))
    }

    pub(crate) fn one(&mut self, sql: &str, p: &Params<'_>) -> Result<Row> {
        let s = self.stmt(sql)?;
        self.tx.query_one(&s, p).map_err(|e| pg_err(e, self.secret))
    }

    pub(crate) fn batch(&mut self, sql: &str) -> Result<()> {
        self.tx
            .batch_execute(sql)
            .map_err(|e| pg_err(e, self.secret))
    }
}

/// A database error as a queue error, with the password (if any slipped in) removed. A
/// connection that closed or could not be made (no answer from the server, an I/O error) is
/// [`QueueError::PostgresDown`]; what the server answered is [`QueueError::Postgres`].
pub(crate) fn pg_err(e: postgres::Error, secret: &Option<String>) -> QueueError {
    let down = e.as_db_error().is_none()
        && (e.is_closed()
            || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()));
    let mut s = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    if let Some(p) = secret.as_deref().filter(|p| !p.is_empty()) {
        s = s.replace(p, "***");
    }
    if down {
        QueueError::PostgresDown(s)
    } else {
        QueueError::Postgres(s)
    }
}

/// Idle connections to one database.
pub(crate) struct Pool {
    config: postgres::Config,
    url: String,
    secret: Option<String>,
    idle: Mutex<Vec<Conn>>,
    keep: usize,
}

impl Pool {
    pub(crate) fn new(url: &str, keep: usize) -> Result<Pool> {
        let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            QueueError::InvalidInput(format!(
                "{} is not a PostgreSQL URL the queue can use: {e}",
                redact(url)
            ))
        })?;
        let secret = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let pool = Pool {
            config,
            url: url.to_string(),
            secret,
            idle: Mutex::new(Vec::new()),
            keep,
        };
        let c = pool.connect()?;
        pool.put(c);
        Ok(pool)
    }

    /// The URL without its password.
    pub(crate) fn shown(&self) -> String {
        redact(&self.url)
    }

    /// A new connection, outside the pool (a runner's lock connection).
    pub(crate) fn connect_raw(&self) -> Result<Client> {
        off_runtime(|| self.connect_here())
    }

    fn connect_here(&self) -> Result<Client> {
        let mut config = self.config.clone();
        if config.get_password().is_none() {
            if let Some(p) = password_from_env_or_pgpass(&config) {
                config.password(p);
            }
        }
        if config.get_application_name().is_none() {
            config.application_name("moadian");
        }
        config
            .connect(NoTls)
            .map_err(|e| match pg_err(e, &self.secret) {
                QueueError::PostgresDown(m) => {
                    QueueError::PostgresDown(format!("cannot connect to {}: {m}", self.shown()))
                }
                QueueError::Postgres(m) => {
                    QueueError::Postgres(format!("cannot connect to {}: {m}", self.shown()))
                }
                other => other,
            })
    }

    fn connect(&self) -> Result<Conn> {
        Ok(Conn {
            client: OffRuntime(Some(self.connect_raw()?)),
            cache: HashMap::new(),
        })
    }

    pub(crate) fn get(&self) -> Result<Conn> {
        let c = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match c {
            Some(c) if !c.client.is_closed() => Ok(c),
            _ => self.connect(),
        }
    }

    pub(crate) fn put(&self, c: Conn) {
        if c.client.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.keep {
            idle.push(c);
        }
    }

    /// Run `f` in one transaction on a pooled connection; commit if it returns Ok.
    pub(crate) fn transaction<R: Send>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R> + Send,
    ) -> Result<R> {
        off_runtime(|| {
            let mut conn = self.get()?;
            let r = run_in(&mut conn, &self.secret, f);
            self.put(conn);
            r
        })
    }

    /// The URL as given (with its password: never shown).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

/// Run `f` in one transaction on `conn`.
pub(crate) fn run_in<R>(
    conn: &mut Conn,
    secret: &Option<String>,
    f: impl FnOnce(&mut Tx<'_>) -> Result<R>,
) -> Result<R> {
    let Conn { client, cache } = conn;
    let tx = client
        .0
        .as_mut()
        .expect("present until dropped")
        .transaction()
        .map_err(|e| pg_err(e, secret))?;
    let mut t = Tx {
        tx,
        cache,
        secret,
        prefix: None,
    };
    let r = f(&mut t)?;
    t.tx.commit().map_err(|e| pg_err(e, secret))?;
    Ok(r)
}

/// libpq's rules, which the Rust driver does not follow by itself: `PGPASSWORD`, then the
/// first matching line of `PGPASSFILE` or `~/.pgpass` (`host:port:db:user:password`, `*`
/// matches anything, `\:` and `\\` escaped).
fn password_from_env_or_pgpass(config: &postgres::Config) -> Option<String> {
    if let Ok(p) = std::env::var("PGPASSWORD") {
        return Some(p);
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pgpass")))?;
    let text = std::fs::read_to_string(file).ok()?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config.get_dbname().unwrap_or("").to_string();
    let user = config.get_user().unwrap_or("").to_string();
    pgpass_lookup(&text, &[&host, &port, &db, &user])
}

pub(crate) fn pgpass_lookup(text: &str, want: &[&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(ch) = chars.next() {
            match ch {
                '\\' => {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() != 5 {
            continue;
        }
        let matches = (0..4).all(|i| fields[i] == "*" || fields[i] == want[i]);
        if matches {
            return fields.pop();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords() {
        assert_eq!(
            redact("postgres://u:s3cret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact("postgresql://h/db?user=u&password=s3cret&x=1"),
            "postgresql://h/db?user=u&password=***&x=1"
        );
        assert_eq!(
            redact("postgres://u:p%40ss@h/db?password=x"),
            "postgres://u:***@h/db?password=***"
        );
    }

    #[test]
    fn pgpass_lines() {
        let text = "# comment\nother:5432:db:u:no\n127.0.0.1:*:moadian:u:pa\\:ss\n";
        assert_eq!(
            pgpass_lookup(text, &["127.0.0.1", "5432", "moadian", "u"]).as_deref(),
            Some("pa:ss")
        );
        assert_eq!(pgpass_lookup(text, &["x", "5432", "moadian", "u"]), None);
    }
}
