# Sourced by .ci/run: makes sure a MariaDB answers on 127.0.0.1:3306 and exports PARLEY_TEST_MYSQL_URL for a
# user that may create databases. Uses the server already running if root (empty password) can log in over
# TCP, as on Parley's CI machines; otherwise installs mariadb-server, starts it, and creates a test user.

mysql_client() { command -v mariadb || command -v mysql; }

try_url() {
  local user=$1 password=$2
  local client; client=$(mysql_client) || return 1
  "$client" --protocol=tcp -h 127.0.0.1 -P 3306 -u "$user" ${password:+-p"$password"} -e 'SELECT 1' >/dev/null 2>&1
}

if try_url root ""; then
  export PARLEY_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306
else
  if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
    apt_install mariadb-server mariadb-client
  fi
  if ! (echo > /dev/tcp/127.0.0.1/3306) 2>/dev/null; then
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    for _ in $(seq 1 60); do
      (echo > /dev/tcp/127.0.0.1/3306) 2>/dev/null && break
      sleep 1
    done
  fi
  # A fresh install lets root in only through the unix socket: make a TCP user for the tests, for both
  # spellings of the local host (MariaDB may resolve 127.0.0.1 to localhost).
  as_root "$(mysql_client)" -u root <<'SQL'
CREATE USER IF NOT EXISTS 'parley_test'@'127.0.0.1' IDENTIFIED BY 'parley_test';
CREATE USER IF NOT EXISTS 'parley_test'@'localhost' IDENTIFIED BY 'parley_test';
GRANT ALL PRIVILEGES ON *.* TO 'parley_test'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'parley_test'@'localhost';
FLUSH PRIVILEGES;
SQL
  try_url parley_test parley_test || { echo "MariaDB does not accept the test user" >&2; return 1; }
  export PARLEY_TEST_MYSQL_URL=mysql://parley_test:parley_test@127.0.0.1:3306
fi
