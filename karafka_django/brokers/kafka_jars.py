"""Apache Kafka's jars for the development brokers: ``org.apache.kafka:kafka_2.13`` and the log4j2
binding of the slf4j 1.7 API that Kafka 4.1 resolves to (so the broker logs), fetched once by Maven
into a cache outside the repository (``KARAFKA_KAFKA_CACHE``, default ``~/.cache/karafka_django``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .base import BrokerError

# 4.1 is the newest 4.x line with a patch release behind it: KIP-848 (the consumer group protocol)
# is generally available since 4.0, KIP-890's transaction hardening is complete in 4.1.
KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
READY_TIMEOUT_S = 120.0

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>karafka_django</groupId><artifactId>kafka-runtime</artifactId><version>{kafka}</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

def pom() -> str:
    return POM.format(kafka=KAFKA_VERSION, log4j=LOG4J_VERSION)


def cache_dir() -> Path:
    """Named after the version and the POM, so a changed dependency list is fetched anew."""
    root = os.environ.get("KARAFKA_KAFKA_CACHE") or Path.home() / ".cache" / "karafka_django"
    return Path(root) / f"kafka-{KAFKA_VERSION}-{hashlib.sha1(pom().encode()).hexdigest()[:8]}"


def java() -> str:
    found = shutil.which("java")
    if not found:
        raise BrokerError("Apache Kafka needs Java 17 or later: install a JDK (Debian: apt-get install openjdk-17-jdk-headless)")
    return found


def classpath() -> str:
    """Kafka's runtime classpath, fetched with Maven on first use."""
    lib = cache_dir() / "lib"
    if not (lib / ".complete").exists():
        fetch_jars(lib)
    return f"{lib}/*"


def fetch_jars(lib: Path) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise BrokerError("fetching Apache Kafka's jars needs Maven 3: install it (Debian: apt-get install maven)")
    lib.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="fetch-", dir=lib.parent))
    try:
        (work / "pom.xml").write_text(pom())
        done = subprocess.run([mvn, "-B", "-q", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
                               "-DincludeScope=runtime", f"-DoutputDirectory={work / 'lib'}"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            errors = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "ERROR" in line]
            reason = re.sub(r"\x1b\[[0-9;]*m", "", errors[0]) if errors else f"exit {done.returncode}"
            raise BrokerError(f"Maven could not fetch Apache Kafka {KAFKA_VERSION}'s jars ({reason.strip()}); "
                              "check that Maven reaches its central repository")
        (work / "lib" / ".complete").touch()
        try:
            (work / "lib").rename(lib)
        except OSError:
            if not (lib / ".complete").exists():  # another process won the rename; anything else is ours to report
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
