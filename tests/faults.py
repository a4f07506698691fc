"""Fault injection for the reliability tests (loaded by the CLI through ``class_path``)."""

from __future__ import annotations

import os
import signal

import lightning as L
import torch


class KillAtStep(L.Callback):
    """SIGKILL this very process at the end of training step ``step``: no handler, no cleanup,
    exactly what a pre-empted machine or the OOM killer does."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class PoisonMember(L.Callback):
    """Before training step ``step``, put a NaN into member ``member``'s ``W_h`` (a member that
    blew up), and remember its weights then, to check they stay frozen."""

    def __init__(self, step: int, member: int) -> None:
        self.step, self.member = step, member
        self.frozen: dict[str, torch.Tensor] | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                pl_module.net.W_h[self.member, 0, 0] = float("nan")
            self.frozen = {k: v[self.member].detach().clone() for k, v in pl_module.laziness_weights().items()}


class TermAtStep(L.Callback):
    """Send this process SIGTERM during training step ``step`` (a scheduler pre-empting the job)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


class FullDisk:
    """Make ``directory`` behave as a nearly full filesystem of its own (a context manager, or
    :meth:`start`/:meth:`stop`): at most ``free`` more bytes can be written into files there, after
    which ``write`` (and ``os.sendfile``) writes what fits and fails with ``ENOSPC``; a rename or move
    between ``directory`` and another folder fails with ``EXDEV`` (another filesystem), as
    ``shutil.move`` expects, so a temporary file kept elsewhere must be *copied* in.

    Python-level: covers writers that go through ``open``/``io.open``/``os.fdopen`` and
    ``os.sendfile`` (``shutil``'s copy), which is what rlnet and Lightning use."""

    def __init__(self, directory, free: int = 0) -> None:
        self.dir = os.path.realpath(os.fspath(directory))
        self.free = int(free)
        self.active = False

    def _inside(self, path) -> bool:
        if isinstance(path, int):
            try:
                path = os.readlink(f"/proc/self/fd/{path}")
            except OSError:
                return False
        try:
            full = os.path.realpath(os.fspath(path))
        except TypeError:
            return False
        return full == self.dir or full.startswith(self.dir + os.sep)

    def _take(self, n: int) -> int:
        """Bytes of ``n`` that still fit."""
        ok = max(0, min(n, self.free))
        self.free -= ok
        return ok

    def _full(self, path=None):
        import errno

        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    def start(self) -> FullDisk:
        import builtins
        import errno
        import io

        fault = self
        self._saved = (builtins.open, io.open, os.rename, os.replace, os.sendfile)
        real_open, _, real_rename, real_replace, real_sendfile = self._saved

        class _File:
            def __init__(self, f, name):
                self._f, self._name = f, name

            def write(self, data):
                n = fault._take(len(data))
                if n:
                    self._f.write(data[:n])
                if n < len(data):
                    self._f.flush()
                    raise fault._full(self._name)
                return len(data)

            def __getattr__(self, k):
                return getattr(self._f, k)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._f.close()

            def __iter__(self):
                return iter(self._f)

        def fake_open(file, mode="r", *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            if fault.active and any(c in mode for c in "wax+") and fault._inside(file):
                return _File(f, file)
            return f

        def cross(src, dst) -> bool:  # one side on the full filesystem, the other not
            return fault.active and fault._inside(src) != fault._inside(dst)

        def fake_rename(src, dst, *a, **k):
            if cross(src, dst):
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), src)
            return real_rename(src, dst, *a, **k)

        def fake_replace(src, dst, *a, **k):
            if cross(src, dst):
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), src)
            return real_replace(src, dst, *a, **k)

        def fake_sendfile(out_fd, in_fd, offset, count):
            if fault.active and fault._inside(out_fd):
                n = fault._take(count)
                if n == 0:
                    raise fault._full()
                return real_sendfile(out_fd, in_fd, offset, n)
            return real_sendfile(out_fd, in_fd, offset, count)

        builtins.open = io.open = fake_open
        os.rename, os.replace, os.sendfile = fake_rename, fake_replace, fake_sendfile
        self.active = True
        return self

    def stop(self) -> None:
        import builtins
        import io

        if self.active:
            builtins.open, io.open, os.rename, os.replace, os.sendfile = self._saved
            self.active = False

    def __enter__(self) -> FullDisk:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class FullDiskAtStep(L.Callback):
    """From training step ``step`` on, the run's ``checkpoints/`` folder is on a full filesystem with
    ``free`` bytes left (see :class:`FullDisk`): the next checkpoint cannot be written whole."""

    def __init__(self, step: int, free: int = 1000) -> None:
        self.step, self.free = step, free
        self.fault: FullDisk | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step and self.fault is None:
            self.fault = FullDisk(os.path.join(trainer.default_root_dir, "checkpoints"), self.free).start()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.teardown(trainer, pl_module, "fit")

    def teardown(self, trainer, pl_module, stage) -> None:
        if self.fault is not None:
            self.fault.stop()
