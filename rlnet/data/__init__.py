"""LightningDataModules: the Neurogym tasks, (sequential) MNIST, pattern generation, the linear student-teacher task."""

from rlnet.data.mnist import MNISTDataModule
from rlnet.data.neurogym_data import NeurogymDataModule, TrialSampler
from rlnet.data.neurogym_tasks import TASKS, TaskSpec, register_task
from rlnet.data.pattern import PatternDataModule
from rlnet.data.student_teacher import StudentTeacherDataModule

__all__ = ["TASKS", "MNISTDataModule", "NeurogymDataModule", "PatternDataModule", "StudentTeacherDataModule",
           "TaskSpec", "TrialSampler", "register_task"]
