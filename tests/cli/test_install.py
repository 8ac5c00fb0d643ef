"""The installed mmhint (cmake --install of the build into a temporary
prefix): it finds its library, helper and tables relative to its own prefix
from any directory and through a symlink, with no MMHINT_ variable and no
checkout; --version reports both versions; an install whose library is
missing or of another version gets one 'mmhint:' line naming the path and
the fix, exit status 2."""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_helpers import BUILD, SOURCE, clean_env  # noqa: E402


def project_version():
    with open(os.path.join(SOURCE, "CMakeLists.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("project(mmhint VERSION "):
                return line.split()[2]
    raise AssertionError("no project version in CMakeLists.txt")


VERSION = project_version()


class InstalledCommandTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isfile(os.path.join(BUILD, "cmake_install.cmake")) or not shutil.which("cmake"):
            raise unittest.SkipTest("no configured build in $MMHINT_BUILD_DIR or no cmake")
        cls.tmp = tempfile.mkdtemp(prefix="mmhint-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        r = subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise AssertionError("cmake --install failed:\n" + r.stdout[-2000:])
        libs = glob.glob(os.path.join(cls.prefix, "lib*", "**", "libmmhint.so.%s" % VERSION), recursive=True)
        assert len(libs) == 1, libs
        cls.lib = libs[0]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def mmhint(self, *args, prefix=None, cwd="/", **kw):
        """Runs PREFIX/bin/mmhint ARGS from CWD with no MMHINT_ variable; the
        command is started through its #! line, as a user would."""
        cmd = os.path.join(prefix or self.prefix, "bin", "mmhint")
        return subprocess.run([cmd] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=clean_env(), cwd=cwd, timeout=120, **kw)

    def copy_prefix(self):
        """A private copy of the install, for tests that break it."""
        d = tempfile.mkdtemp(dir=self.tmp)
        dst = os.path.join(d, "prefix")
        shutil.copytree(self.prefix, dst, symlinks=True)
        return dst, self.lib.replace(self.prefix, dst, 1)

    def assert_one_line_error(self, r, *parts):
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("mmhint: "), r.stderr)
        for p in parts:
            self.assertIn(p, lines[0])

    def test_layout(self):
        p = self.prefix
        for rel in ("bin/mmhint", "bin/mmhint-explain", "include/mmhint.h", "share/man/man1/mmhint.1",
                    "share/man/man5/mmhint.conf.5", "share/bash-completion/completions/mmhint",
                    "share/mmhint/mmhint_options.def", "share/doc/mmhint/examples/log-scan.conf",
                    "share/doc/mmhint/examples/systemd/mmhint.conf"):
            self.assertTrue(os.path.exists(os.path.join(p, rel)), rel)
        libdir = os.path.dirname(self.lib)
        self.assertEqual(os.readlink(os.path.join(libdir, "libmmhint.so.0")), "libmmhint.so.%s" % VERSION)
        pc = os.path.join(libdir, "pkgconfig", "mmhint.pc")
        with open(pc, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("prefix=%s\n" % self.prefix, text)
        self.assertIn("Version: %s\n" % VERSION, text)
        self.assertEqual(glob.glob(os.path.join(p, "**", "__pycache__"), recursive=True), [])

    def test_version_through_a_symlink_from_anywhere(self):
        link_dir = tempfile.mkdtemp(dir=self.tmp)
        link = os.path.join(link_dir, "mmhint")
        os.symlink(os.path.join(self.prefix, "bin", "mmhint"), link)
        r = subprocess.run([link, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=clean_env(), cwd="/")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), ["mmhint %s (%s)" % (VERSION, os.path.join(self.prefix, "bin", "mmhint")),
                                                 "libmmhint %s (%s)" % (VERSION, self.lib)])
        self.assertEqual(r.stderr, "")

    def test_run_writes_statistics(self):
        stats = os.path.join(tempfile.mkdtemp(dir=self.tmp), "st")
        data = os.path.join(self.tmp, "data.txt")
        with open(data, "w") as f:
            f.write("hello\n" * 100)
        r = self.mmhint("run", "--stats", stats, "--", "cat", data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "hello\n" * 100)
        self.assertEqual(len(glob.glob(os.path.join(stats, "cat.*.json"))), 1, os.listdir(stats))
        r = self.mmhint("report", stats)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("data.txt", r.stdout)

    def test_explain_finds_the_helper_and_the_tables(self):
        r = self.mmhint("explain", "/etc/passwd")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("/etc/passwd", r.stdout)
        r = self.mmhint("run", "--set", "hugepage=thp", "--", "true")
        self.assert_one_line_error(r, "unknown option 'hugepage'", "did you mean 'hugepages'")

    def test_missing_library(self):
        prefix, lib = self.copy_prefix()
        os.unlink(lib)
        r = self.mmhint("run", "--", "true", prefix=prefix)
        self.assert_one_line_error(r, lib, "reinstall", "--lib")
        r = self.mmhint("--version", prefix=prefix)
        self.assertEqual(r.returncode, 2)
        self.assertIn(lib, r.stderr)

    def test_library_of_another_version(self):
        prefix, lib = self.copy_prefix()
        libdir = os.path.dirname(lib)
        os.rename(lib, os.path.join(libdir, "libmmhint.so.0.999.0"))
        os.unlink(os.path.join(libdir, "libmmhint.so.0"))
        os.symlink("libmmhint.so.0.999.0", os.path.join(libdir, "libmmhint.so.0"))
        r = self.mmhint("run", "--", "true", prefix=prefix)
        self.assert_one_line_error(r, lib, "libmmhint.so.0.999.0", "reinstall")

    def test_version_mismatch_warns(self):
        prefix, lib = self.copy_prefix()
        # A command of another version beside this library.
        installed = os.path.join(prefix, "share", "mmhint", "python", "mmhint_cli", "installed.py")
        with open(installed, encoding="utf-8") as f:
            text = f.read()
        with open(installed, "w", encoding="utf-8") as f:
            f.write(text.replace('"%s"' % VERSION, '"9.9.9"').replace(".so.%s" % VERSION, ".so.9.9.9"))
        os.rename(lib, lib.replace(VERSION, "9.9.9"))
        r = self.mmhint("--version", prefix=prefix)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("mmhint 9.9.9", r.stdout)
        self.assertIn("libmmhint %s" % VERSION, r.stdout)
        self.assertRegex(r.stderr, r"^mmhint: WARNING: the command is version 9\.9\.9 but the library is ")


if __name__ == "__main__":
    unittest.main()
