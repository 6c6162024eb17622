"""Domain errors. Only the CLI turns them into exit codes and messages."""


class AdvisorError(Exception):
    """Base of every error the advisor raises on purpose."""

    exit_code = 1


class InputError(AdvisorError):
    """Bad user input: names the field and the accepted form."""

    exit_code = 2

    def __init__(self, field: str, problem: str, accepted: str | None = None):
        self.field = field
        self.problem = problem
        self.accepted = accepted
        msg = f"{field}: {problem}"
        if accepted:
            msg += f" (accepted: {accepted})"
        super().__init__(msg)


class NotFoundError(InputError):
    """An id that the knowledge base does not hold."""


class KnowledgeBaseError(AdvisorError):
    """The knowledge base does not validate."""

    def __init__(self, problems: list):
        self.problems = problems
        lines = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"the knowledge base has {len(problems)} problem(s):\n{lines}{more}")
