using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Polly v8 pipelines: the first strategy added is the outermost, so a timeout added after another timeout is inner to it,
/// and a retry between them repeats the inner one inside the outer window.
/// </summary>
internal static class PollyPipelines
{
    private static readonly TimeSpan PollyDefaultDelay = TimeSpan.FromSeconds(2);

    public static void Check(TypeTimeoutModel model, DiagnosticSink sink)
    {
        if (model.Types.PollyBuilderBase is null)
        {
            return;
        }

        var pipelines = new Dictionary<object, List<IInvocationOperation>>(RootComparer.Instance);
        foreach (var invocation in model.Calls(CallRole.PipelineStrategy))
        {
            if (Roots.Receiver(invocation) is not { } receiver
                || !KnownTypes.IsOrDerivesFrom(receiver.Type, model.Types.PollyBuilderBase))
            {
                continue;
            }

            var key = ChainStart(receiver, model);
            if (!pipelines.TryGetValue(key, out var strategies))
            {
                pipelines[key] = strategies = new List<IInvocationOperation>();
            }

            strategies.Add(invocation);
        }

        foreach (var strategies in pipelines.Values)
        {
            CheckPipeline(strategies.Where(s => s.Syntax.SyntaxTree == strategies[0].Syntax.SyntaxTree).OrderBy(s => s.Syntax.Span.End).ToList(), model, sink);
        }
    }

    private static void CheckPipeline(List<IInvocationOperation> strategies, TypeTimeoutModel model, DiagnosticSink sink)
    {
        Duration? outer = null;
        IInvocationOperation? retryInside = null;
        foreach (var strategy in strategies)
        {
            if (strategy.TargetMethod.Name == "AddRetry")
            {
                retryInside ??= strategy;
                continue;
            }

            if (Timeout(strategy, model) is not { IsFinite: true } inner)
            {
                continue;
            }

            if (outer is { } enclosing)
            {
                const string innerDescription = "the inner Polly timeout strategy";
                const string outerDescription = "the timeout strategy added before it (outermost first)";
                var consequence = $"the outer strategy cancels after {enclosing.Text}, so the inner {inner.Text} timeout never fires";
                if (!Comparison.InnerNotShorter(inner, innerDescription, enclosing, outerDescription, consequence, sink)
                    && !(retryInside is not null && CheckRetry(retryInside, inner, enclosing, model, sink)))
                {
                    Comparison.MarginTooSmall(inner, innerDescription, enclosing, outerDescription, sink);
                }
            }

            outer = inner;
            retryInside = null;
        }
    }

    private static bool CheckRetry(IInvocationOperation retry, Duration attempt, Duration outer, TypeTimeoutModel model, DiagnosticSink sink)
    {
        var options = Roots.Of(Arguments(retry).FirstOrDefault());
        if (model.Get(options, "MaxRetryAttempts") is not { Number: { } retries } written || retries < 1 || retries >= RetrySchedule.MaxAttemptsLimit)
        {
            // No retry count written, or retry-until-deadline: neither is the user's finite schedule.
            return false;
        }

        var exponentialByDefault = Roots.TypeOf(options!)?.Name == "HttpRetryStrategyOptions";
        var schedule = Schedule(model, options!, string.Empty, (int)retries, exponentialByDefault);
        return schedule is not null
            && Comparison.ScheduleDoesNotFit(schedule, attempt, outer, $"The retry schedule (MaxRetryAttempts = {retries})", "the outer timeout strategy", retry, sink);
    }

    /// <summary>A schedule from written retry options; unwritten delay and backoff take the library's defaults.</summary>
    public static RetrySchedule? Schedule(TypeTimeoutModel model, object options, string prefix, int retries, bool exponentialByDefault)
    {
        var delay = model.GetDuration(options, prefix + "Delay")?.Value ?? PollyDefaultDelay;
        var maxDelay = model.GetDuration(options, prefix + "MaxDelay")?.Value;
        var backoff = model.Get(options, prefix + "BackoffType")?.Name switch
        {
            "Linear" => RetryBackoff.Linear,
            "Exponential" => RetryBackoff.Exponential,
            "Constant" => RetryBackoff.Constant,
            _ => exponentialByDefault ? RetryBackoff.Exponential : RetryBackoff.Constant,
        };

        if (delay < TimeSpan.Zero || delay > DurationText.MaxValue || maxDelay is { } cap && (cap < TimeSpan.Zero || cap > DurationText.MaxValue))
        {
            return null;
        }

        return new RetrySchedule(retries + 1, delay, backoff, maxDelay);
    }

    private static Duration? Timeout(IInvocationOperation strategy, TypeTimeoutModel model)
    {
        var argument = Arguments(strategy).FirstOrDefault();
        if (argument is null)
        {
            return null;
        }

        return model.Types.IsTimeSpan(DurationEvaluator.SkipConversions(argument).Type)
            ? model.Evaluator.EvaluateTimeSpan(argument)
            : model.GetDuration(Roots.Of(argument), "Timeout");
    }

    private static IEnumerable<IOperation> Arguments(IInvocationOperation invocation) =>
        invocation.Arguments.Skip(invocation.Instance is null && invocation.TargetMethod.IsExtensionMethod ? 1 : 0).Select(a => a.Value);

    private static object ChainStart(IOperation receiver, TypeTimeoutModel model)
    {
        var current = DurationEvaluator.SkipConversions(receiver);
        while (current is IInvocationOperation call && Roots.Receiver(call) is { } inner && KnownTypes.IsOrDerivesFrom(inner.Type, model.Types.PollyBuilderBase))
        {
            current = DurationEvaluator.SkipConversions(inner);
        }

        return current is ILocalReferenceOperation or IParameterReferenceOperation or IFieldReferenceOperation or IPropertyReferenceOperation
            ? Roots.Of(current) ?? current
            : current;
    }
}
