using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// IHttpClientFactory registrations: everything configured on one named or typed client — its <c>HttpClient.Timeout</c>
/// (from <c>AddHttpClient</c>/<c>ConfigureHttpClient</c> lambdas or method groups, or a typed client's constructor) and the
/// Polly v7 handlers in registration order — checked as one nest: <c>HttpClient.Timeout</c> wraps every handler, the first
/// handler added is the outermost, and a retry repeats the timeout inside it within whatever timeout is outside it.
/// </summary>
internal static class HttpClientRegistrations
{
    private const string BuilderInterface = "IHttpClientBuilder";

    /// <summary>Above this many retries a schedule is a retry-until-the-deadline loop, which an outer timeout is meant to cut.</summary>
    public const int RetryUntilDeadlineRetries = 10;

    public static void Check(TypeTimeoutModel model, DiagnosticSink sink)
    {
        var registrations = new Dictionary<string, List<IInvocationOperation>>(StringComparer.Ordinal);
        foreach (var invocation in model.Calls(CallRole.HttpClientBuilderStep))
        {
            if (RegistrationOf(invocation) is not { } registration)
            {
                continue;
            }

            var key = Key(registration);
            if (!registrations.TryGetValue(key, out var steps))
            {
                registrations[key] = steps = new List<IInvocationOperation>();
                if (IsBuilderStep(registration))
                {
                    steps.Add(registration);
                }
            }

            if (!steps.Contains(invocation))
            {
                steps.Add(invocation);
            }
        }

        foreach (var pair in registrations.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            CheckRegistration(pair.Value.OrderBy(Position).ToList(), model, sink);
        }
    }

    private static void CheckRegistration(List<IInvocationOperation> steps, TypeTimeoutModel model, DiagnosticSink sink)
    {
        Duration? clientTimeout = null;
        var layers = new List<(PolicyLayer Layer, IOperation Step)>();
        foreach (var step in steps)
        {
            if (ClientTimeout(step, model) is { } written)
            {
                clientTimeout = written;
            }

            foreach (var layer in Handlers(step, model))
            {
                layers.Add((layer, StepArgument(step)));
            }
        }

        Duration? enclosing = clientTimeout is { IsFinite: true } ? clientTimeout : null;
        var enclosingDescription = "HttpClient.Timeout (which wraps every handler)";
        for (var i = 0; i < layers.Count; i++)
        {
            var (layer, step) = layers[i];
            if (layer.IsTimeout)
            {
                if (layer.Timeout is not { IsFinite: true } timeout)
                {
                    continue;
                }

                if (enclosing is { } outer)
                {
                    var consequence = $"the outer timeout ends every request after {outer.Text}, so this {timeout.Text} timeout never fires and the failure is attributed to the wrong layer";
                    if (!Comparison.InnerNotShorter(timeout, "the Polly timeout policy", outer, enclosingDescription, consequence, sink, step))
                    {
                        Comparison.MarginTooSmall(timeout, "the Polly timeout policy", outer, enclosingDescription, sink, step);
                    }
                }

                if (enclosing is null || timeout.Value < enclosing.Value.Value)
                {
                    enclosing = timeout;
                    enclosingDescription = "the Polly timeout policy outside it";
                }

                continue;
            }

            if (enclosing is { } window)
            {
                var perAttempt = layers.Skip(i + 1).Select(l => l.Layer).FirstOrDefault(l => l.IsTimeout)?.Timeout;
                RetryFits(layer, perAttempt, window, enclosingDescription, step, sink);
            }
        }
    }

    /// <summary>
    /// TB0002 for a Polly v7 retry: not even one retry can start inside the window, or an explicitly written, modest schedule
    /// (fewer than <see cref="RetryUntilDeadlineRetries"/> retries) is cut short by it. Retry-until-the-deadline is not reported.
    /// </summary>
    private static void RetryFits(PolicyLayer retry, Duration? perAttempt, Duration window, string windowDescription, IOperation reportAt, DiagnosticSink sink)
    {
        var retries = retry.Retries!.Value;
        if (retries < 1)
        {
            return;
        }

        var attempt = perAttempt is { IsFinite: true } perAttemptTimeout ? perAttemptTimeout.Value : (TimeSpan?)null;
        var firstDelay = retry.Delays.Count > 0 ? retry.Delays[0] : null;
        var description = retries == int.MaxValue ? "the retry policy (retrying forever)" : $"the retry policy ({retries} {(retries == 1 ? "retry" : "retries")})";
        if ((attempt is not null || firstDelay is not null) && (attempt ?? TimeSpan.Zero) + (firstDelay ?? TimeSpan.Zero) >= window.Value)
        {
            var parts = attempt is { } a && firstDelay is { } d
                ? $"the first attempt ({DurationText.Format(a)}) and the first delay ({DurationText.Format(d)}) already use up"
                : firstDelay is { } delay ? $"its first delay ({DurationText.Format(delay)}) alone already uses up" : $"the first attempt ({DurationText.Format(attempt!.Value)}) already uses up";
            sink.ReportComparison(
                Descriptors.RetryScheduleDoesNotFit,
                reportAt.Syntax.GetLocation(),
                $"{Comparison.SentenceStart(description)} cannot fit: not even one retry can start, {parts} {windowDescription} ({window.Text}, set at {window.Where})",
                new[] { window.Source.Syntax.GetLocation() },
                null,
                window);
            return;
        }

        if (attempt is not { } each || retries >= RetryUntilDeadlineRetries)
        {
            return;
        }

        var attempts = retries + 1;
        var attemptsTotal = TimeSpan.FromTicks(each.Ticks * attempts);
        var delays = TimeSpan.Zero;
        var unknownDelays = 0;
        foreach (var delay in retry.Delays)
        {
            if (delay is { } d)
            {
                delays += d;
            }
            else
            {
                unknownDelays++;
            }
        }

        if (attemptsTotal + delays <= window.Value)
        {
            return;
        }

        var delayText = delays > TimeSpan.Zero ? $" + {DurationText.Format(delays)} of delays" : string.Empty;
        var unknownText = unknownDelays > 0 ? $" (not counting {unknownDelays} delay{(unknownDelays == 1 ? string.Empty : "s")} that cannot be known)" : string.Empty;
        sink.ReportComparison(
            Descriptors.RetryScheduleDoesNotFit,
            reportAt.Syntax.GetLocation(),
            $"{Comparison.SentenceStart(description)} cannot fit: {attempts} attempts × {DurationText.Format(each)}{delayText}{unknownText} is at least {DurationText.Format(attemptsTotal + delays)}, more than {windowDescription} ({window.Text}, set at {window.Where}): the later retries can never run to their timeout",
            new[] { window.Source.Syntax.GetLocation() },
            null,
            perAttempt is { } timed ? new[] { window, timed } : new[] { window });
    }

    private static bool IsBuilderStep(IInvocationOperation invocation) => IsBuilderStep(invocation.TargetMethod, invocation.TargetMethod.ReturnType);

    /// <summary>An extension method on <c>IHttpClientBuilder</c>, or an <c>Add…</c> method that returns one.</summary>
    public static bool IsBuilderStep(IMethodSymbol method, ITypeSymbol returned) =>
        method is { IsExtensionMethod: true, Parameters.Length: > 0 } && method.Parameters[0].Type.Name == BuilderInterface
        || returned.Name == BuilderInterface && method.Name.StartsWith("Add", StringComparison.Ordinal);

    /// <summary>The call that created the builder (<c>services.AddHttpClient(…)</c>), through fluent calls and locals.</summary>
    private static IInvocationOperation? RegistrationOf(IInvocationOperation step)
    {
        var current = step;
        for (var depth = 0; depth < 32; depth++)
        {
            var receiver = Roots.Receiver(current) is { } r ? TimedWait.Unwrap(r) : null;
            if (receiver is IInvocationOperation previous && previous.TargetMethod.ReturnType.Name == BuilderInterface)
            {
                current = previous;
                continue;
            }

            return current.TargetMethod.ReturnType.Name == BuilderInterface || receiver?.Type?.Name != BuilderInterface ? current : null;
        }

        return null;
    }

    /// <summary>Registrations of one client name (or typed client) are one client, wherever in the type they are written.</summary>
    private static string Key(IInvocationOperation registration)
    {
        var method = registration.TargetMethod;
        var name = registration.Arguments.FirstOrDefault(a => a.Parameter?.Name == "name" && a.Value.ConstantValue.HasValue)?.Value.ConstantValue.Value as string;
        if (name is not null)
        {
            return "name:" + name;
        }

        if (method.TypeArguments.Length > 0)
        {
            return "type:" + method.TypeArguments[0].ToDisplayString();
        }

        var span = registration.Syntax.GetLocation().GetLineSpan();
        return $"at:{span.Path}:{registration.Syntax.SpanStart}";
    }

    /// <summary>Registration order: where the method name is written, so <c>a.B().C()</c> orders B before C.</summary>
    private static (string, int) Position(IInvocationOperation step)
    {
        var syntax = step.Syntax is Microsoft.CodeAnalysis.CSharp.Syntax.InvocationExpressionSyntax { Expression: Microsoft.CodeAnalysis.CSharp.Syntax.MemberAccessExpressionSyntax access }
            ? access.Name.SpanStart
            : step.Syntax.SpanStart;
        return (step.Syntax.SyntaxTree.FilePath, syntax);
    }

    private static IOperation StepArgument(IInvocationOperation step) =>
        step.Arguments.Skip(step.Instance is null && step.TargetMethod.IsExtensionMethod ? 1 : 0).Select(a => a.Value).FirstOrDefault(v => v.Syntax.Span.Length > 0) ?? step;

    /// <summary><c>HttpClient.Timeout</c> written by this step: a configure delegate, or the constructor of the typed client it registers.</summary>
    private static Duration? ClientTimeout(IInvocationOperation step, TypeTimeoutModel model)
    {
        Duration? written = null;
        foreach (var argument in step.Arguments)
        {
            if (ConfigureBody(argument.Value, model, out var client) is { } body && TimeoutWrite(body, client!, model) is { } value)
            {
                written = value;
            }
        }

        if (written is null && step.TargetMethod.Name == "AddHttpClient" && step.TargetMethod.TypeArguments.Length > 0
            && step.TargetMethod.TypeArguments[step.TargetMethod.TypeArguments.Length - 1] is INamedTypeSymbol typed)
        {
            foreach (var constructor in typed.InstanceConstructors)
            {
                var client = constructor.Parameters.FirstOrDefault(p => KnownTypes.IsOrDerivesFrom(p.Type, model.Types.HttpClient));
                if (client is not null && model.Evaluator.Declarations?.Body(constructor) is { } body && TimeoutWrite(body, client, model) is { } value)
                {
                    written = value;
                }
            }
        }

        return written;
    }

    private static IOperation? ConfigureBody(IOperation value, TypeTimeoutModel model, out IParameterSymbol? client)
    {
        client = null;
        value = DurationEvaluator.SkipConversions(value);
        if (value is IDelegateCreationOperation creation)
        {
            value = creation.Target;
        }

        switch (value)
        {
            case IAnonymousFunctionOperation lambda:
                client = lambda.Symbol.Parameters.FirstOrDefault(p => KnownTypes.IsOrDerivesFrom(p.Type, model.Types.HttpClient));
                return client is null ? null : lambda.Body;
            case IMethodReferenceOperation reference:
                client = reference.Method.Parameters.FirstOrDefault(p => KnownTypes.IsOrDerivesFrom(p.Type, model.Types.HttpClient));
                return client is null ? null : model.Evaluator.Declarations?.Body(reference.Method);
            default:
                return null;
        }
    }

    /// <summary>The last <c>Timeout</c> written on the client parameter, or on a field the body stores it in (<c>_http = http; _http.Timeout = …</c>).</summary>
    private static Duration? TimeoutWrite(IOperation body, IParameterSymbol client, TypeTimeoutModel model)
    {
        var holders = new HashSet<ISymbol>(SymbolEqualityComparer.Default) { client };
        var assignments = body.DescendantsAndSelf().OfType<ISimpleAssignmentOperation>().ToList();
        foreach (var assignment in assignments)
        {
            if (DurationEvaluator.SkipConversions(assignment.Value) is IParameterReferenceOperation stored
                && SymbolEqualityComparer.Default.Equals(stored.Parameter, client) && Roots.Of(assignment.Target) is ISymbol holder)
            {
                holders.Add(holder);
            }
        }

        Duration? written = null;
        foreach (var assignment in assignments)
        {
            if (assignment.Target is IPropertyReferenceOperation { Property.Name: "Timeout", Instance: { } instance }
                && Roots.Of(instance) is ISymbol target && holders.Contains(target))
            {
                written = model.Evaluator.EvaluateTimeSpan(assignment.Value);
                if (written is null)
                {
                    return null;
                }
            }
        }

        return written;
    }

    /// <summary>The Polly v7 layers a step adds: <c>AddPolicyHandler(policy)</c> or a policy-returning lambda, <c>AddTransientHttpErrorPolicy(b => …)</c>.</summary>
    private static IEnumerable<PolicyLayer> Handlers(IInvocationOperation step, TypeTimeoutModel model)
    {
        if (step.TargetMethod.Name is not ("AddPolicyHandler" or "AddTransientHttpErrorPolicy"))
        {
            return Array.Empty<PolicyLayer>();
        }

        var policy = step.Arguments.Skip(step.Instance is null ? 1 : 0).Select(a => DurationEvaluator.SkipConversions(a.Value)).FirstOrDefault();
        if (policy is IDelegateCreationOperation { Target: IAnonymousFunctionOperation lambda })
        {
            policy = PollyV7Policies.ReturnedValue(lambda.Body);
        }

        return PollyV7Policies.Layers(policy, model) ?? (IEnumerable<PolicyLayer>)Array.Empty<PolicyLayer>();
    }
}
