"""LightningDataModules: Neurogym tasks (and, as the other issues land, sMNIST, pattern, student-teacher)."""

from rlnet.data.mnist import MNISTDataModule
from rlnet.data.neurogym_data import NeurogymDataModule, TrialSampler
from rlnet.data.neurogym_tasks import TASKS, TaskSpec, register_task
from rlnet.data.pattern import PatternDataModule
from rlnet.data.student_teacher import StudentTeacherDataModule

__all__ = ["TASKS", "MNISTDataModule", "NeurogymDataModule", "PatternDataModule", "StudentTeacherDataModule",
           "TaskSpec", "TrialSampler", "register_task"]
