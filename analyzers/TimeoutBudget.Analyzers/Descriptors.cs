using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers;

/// <summary>Every rule's descriptor, in one place so IDs, titles, severities and help links cannot drift apart.</summary>
public static class Descriptors
{
    public const string HelpLinkBase = "https://github.com/timeoutbudget/timeoutbudget/blob/main/docs/rules/";

    private const string Reliability = "Reliability";
    private const string Usage = "Usage";

    public static readonly DiagnosticDescriptor InnerTimeoutNotShorter = Create(
        DiagnosticIds.InnerTimeoutNotShorter,
        "Inner timeout does not expire before the timeout that encloses it",
        "{0}",
        Reliability,
        DiagnosticSeverity.Warning,
        "An inner timeout must expire before the outer timeout on the same call path; otherwise the outer one fires first, the inner one never does, and the failure is attributed to the wrong layer or the work keeps running.");

    public static readonly DiagnosticDescriptor RetryScheduleDoesNotFit = Create(
        DiagnosticIds.RetryScheduleDoesNotFit,
        "Retry schedule cannot fit inside the enclosing timeout",
        "{0}",
        Reliability,
        DiagnosticSeverity.Warning,
        "An explicitly configured, finite retry schedule whose attempts, per-attempt timeout and backoff delays exceed the outer timeout promises retries that can never happen.");

    public static readonly DiagnosticDescriptor MarginTooSmall = Create(
        DiagnosticIds.MarginTooSmall,
        "Inner timeout leaves too small a margin inside the enclosing timeout",
        "{0}",
        Reliability,
        DiagnosticSeverity.Info,
        "An inner timeout that expires only just before the outer one leaves no time to report, clean up or fall back; configure the minimum with timeout_budget.minimum_margin.");

    public static readonly DiagnosticDescriptor TimedWaitAbandonsWork = Create(
        DiagnosticIds.TimedWaitAbandonsWork,
        "Timed wait abandons work that keeps running",
        "{0}",
        Reliability,
        DiagnosticSeverity.Warning,
        "A timed wait that gives up without cancelling the work it waits for leaves that work running on a pool thread or socket; pass a token that is cancelled with the same timeout.");

    public static readonly DiagnosticDescriptor OperationWithoutDeadline = Create(
        DiagnosticIds.OperationWithoutDeadline,
        "Outbound operation has no deadline",
        "{0}",
        Reliability,
        DiagnosticSeverity.Warning,
        "An outbound call with an infinite timeout and no bounded token can wait forever; give it a timeout or a token that is cancelled after one.");

    public static readonly DiagnosticDescriptor BudgetMisuse = Create(
        DiagnosticIds.BudgetMisuse,
        "Budget is misused",
        "{0}",
        Usage,
        DiagnosticSeverity.Warning,
        "A child budget must fit inside its parent, and cancellable work inside a budget scope must receive the budget's token so that it stops when the budget ends.");

    public static readonly DiagnosticDescriptor InvalidTimeoutPlan = Create(
        DiagnosticIds.InvalidTimeoutPlan,
        "Timeout plan is invalid",
        "{0}",
        Reliability,
        DiagnosticSeverity.Warning,
        "A timeout plan (timeouts.json or *.timeouts.json in AdditionalFiles) is checked with exactly the rules of BudgetPlan.Validate().");

    public static readonly DiagnosticDescriptor ConfiguredTimeoutsMisaligned = Create(
        DiagnosticIds.ConfiguredTimeoutsMisaligned,
        "Timeouts read from configuration do not nest",
        "{0}",
        Reliability,
        DiagnosticSeverity.Warning,
        "TB0001 or TB0002 found with at least one of the values read from appsettings.json (or the environment's appsettings file): reported under its own ID so that findings that depend on deployed configuration can be tuned apart from those written in code.");

    public static string HelpLink(string id) => HelpLinkBase + id + ".md";

    private static DiagnosticDescriptor Create(string id, string title, string messageFormat, string category, DiagnosticSeverity severity, string description) =>
        new(id, title, messageFormat, category, severity, isEnabledByDefault: true, description: description, helpLinkUri: HelpLink(id));
}
