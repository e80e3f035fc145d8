"""The drill-down question tree: which clusterings the user opened, and the path back up.

The root is the sidebar's clustering of all the texts. Drilling into cluster c of a node asks
a follow-up question of only that cluster's texts; the child is kept under its path (the steps
from the root), so going back up, or down the same step again, shows it without running
anything. The page keeps one :class:`QuestionTree` in ``st.session_state``; this module has no
Streamlit in it, so the state and the breadcrumbs are tested without a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Node = TypeVar("Node")  # what the page keeps per clustering (explorer's Result)
SEPARATOR = " › "


@dataclass(frozen=True)
class Step:
    """One drill-down: the cluster chosen one level up and the follow-up question asked of its texts."""

    cluster: int
    label: str  # the cluster as the parent shows it: "2 · wait times"
    question: str
    k: int | None = None  # None: chosen by silhouette
    min_similarity: float | str | None = None  # the outlier setting the child was clustered with


Path = tuple[Step, ...]


@dataclass(frozen=True)
class Crumb:
    """One piece of the breadcrumb bar: its text, the depth it goes back to, and whether it is where we are."""

    label: str
    depth: int
    current: bool
    kind: str  # "texts" (All N texts, a cluster) or "question"


@dataclass
class QuestionTree(Generic[Node]):
    """Every clustering opened from one root, by path; ``current`` is the one the page shows."""

    root: Node
    nodes: dict[Path, Node] = field(default_factory=dict)
    current: Path = ()

    def __post_init__(self) -> None:
        self.nodes.setdefault((), self.root)

    @property
    def shown(self) -> Node:
        """The clustering the page shows now."""
        return self.nodes[self.current]

    @property
    def depth(self) -> int:
        return len(self.current)

    def node_id(self, path: Path | None = None) -> int:
        """A small number naming a node (stable while the tree lives), for the keys of its widgets."""
        return list(self.nodes).index(self.current if path is None else path)

    def child(self, step: Step, path: Path | None = None) -> Node | None:
        """The clustering already made for ``step`` below ``path`` (default: the current node), if any."""
        return self.nodes.get((*(self.current if path is None else path), step))

    def descend(self, step: Step, node: Node, path: Path | None = None) -> None:
        """Keep ``node`` as the child of ``path`` for ``step`` and show it."""
        target = (*(self.current if path is None else path), step)
        self.nodes[target] = node
        self.current = target

    def go_to(self, depth: int) -> None:
        """Show the ancestor at ``depth`` (0: the root); its children stay cached."""
        self.current = self.current[: max(0, min(depth, len(self.current)))]


def breadcrumbs(total: int, root_question: str, path: Sequence[Step]) -> list[Crumb]:
    """``All 256 texts › Q › 2 · wait times › Q2``: a texts crumb and a question crumb per level.

    Both crumbs of a level go back to that level's clustering; those of the current level are
    marked current (shown, not clickable).
    """
    last = len(path)
    crumbs = [Crumb(f"All {total:,} texts", 0, last == 0, "texts"), Crumb(root_question, 0, last == 0, "question")]
    for depth, step in enumerate(path, start=1):
        crumbs.append(Crumb(step.label, depth, depth == last, "texts"))
        crumbs.append(Crumb(step.question, depth, depth == last, "question"))
    return crumbs


def path_text(crumbs: Sequence[Crumb]) -> str:
    """The breadcrumbs as one line, for captions, exports and tests."""
    return SEPARATOR.join(crumb.label for crumb in crumbs)


def reset_if_new_root(tree: QuestionTree[Node] | None, root: Node) -> QuestionTree[Node]:
    """The tree for ``root``: the same one while the root clustering is the same object, else a fresh one.

    A new sidebar run (another question, k or outlier setting) makes a new root, and the
    follow-ups asked of the old one no longer apply.
    """
    if tree is not None and tree.root is root:
        return tree
    return QuestionTree(root)


def parent_record(question: str, cluster: int, name: str | None, texts: int, parent: dict | None = None) -> dict:
    """Where a drilled-down clustering came from, as ``inbedder cluster --within`` records it (saved as
    ``parent``); ``clustering`` is None because the parent was never saved to a folder."""
    return {"clustering": None, "cluster": int(cluster), "name": name, "instruction": question, "texts": int(texts),
            "parent": parent}
