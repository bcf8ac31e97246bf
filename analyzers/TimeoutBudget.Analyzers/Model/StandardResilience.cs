using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>Microsoft.Extensions.Http.Resilience's standard handler: the attempt timeout sits inside the total request timeout, with the retry between them.</summary>
internal static class StandardResilience
{
    /// <summary>The handler's documented defaults, which count once you opted into the handler and wrote the other side.</summary>
    private static readonly TimeSpan DefaultTotal = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DefaultAttempt = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DefaultDelay = TimeSpan.FromSeconds(2);
    private const int DefaultRetries = 3;

    public static void Check(TypeTimeoutModel model, DiagnosticSink sink)
    {
        if (model.Types.HttpStandardResilienceOptions is null && model.Types.HttpStandardHedgingOptions is null)
        {
            return;
        }

        var handlers = model.Calls(CallRole.StandardHandler);
        if (handlers.Count == 0)
        {
            return;
        }

        var invocations = model.Invocations.ToList();
        foreach (var handler in handlers)
        {
            if (handler.TargetMethod.Name == "AddStandardResilienceHandler")
            {
                var written = Written(handler, invocations, model, model.Types.HttpStandardResilienceOptions);
                CheckAgainstHttpClientTimeout(handler, written, invocations, model, sink);
                CheckHandler(handler, written, model, sink);
            }
            else if (handler.TargetMethod.Name == "AddStandardHedgingHandler" && model.Types.HttpStandardHedgingOptions is { } hedgingOptions)
            {
                CheckHedgingHandler(handler, Written(handler, invocations, model, hedgingOptions), sink);
            }
        }
    }

    /// <summary>
    /// The hedging handler nests total request timeout → hedging → per-endpoint attempt timeout (<c>Endpoint.Timeout</c>): the
    /// attempt must end before the total, and a hedged attempt must be able to start before the total ends. Defaults (30 s total,
    /// 10 s per endpoint, the first hedge after 2 s) count once you wrote one side.
    /// </summary>
    private static void CheckHedgingHandler(IInvocationOperation handler, Dictionary<string, WrittenValue> written, DiagnosticSink sink)
    {
        if (Value(written, "TotalRequestTimeout.Timeout", DefaultTotal, handler, out var totalWritten) is not { IsFinite: true } total)
        {
            return;
        }

        var attempt = Value(written, "Endpoint.Timeout.Timeout", DefaultAttempt, handler, out var attemptWritten);
        var delay = Value(written, "Hedging.Delay", DefaultDelay, handler, out var delayWritten);

        var totalDescription = totalWritten ? "TotalRequestTimeout" : "the handler's default TotalRequestTimeout";
        var attemptDescription = attemptWritten ? "Endpoint.Timeout" : "the handler's default Endpoint.Timeout";
        if ((totalWritten || attemptWritten) && attempt is { IsFinite: true } endpointAttempt)
        {
            var consequence = $"the total request timeout ends every request after {total.Text}, so the per-endpoint attempt timeout never fires and a slow endpoint is never reported as one";
            if (Comparison.InnerNotShorter(endpointAttempt, attemptDescription, total, totalDescription, consequence, sink, handler)
                || Comparison.MarginTooSmall(endpointAttempt, attemptDescription, total, totalDescription, sink, handler))
            {
                return;
            }
        }

        if ((totalWritten || delayWritten) && delay is { IsFinite: true } hedgingDelay && hedgingDelay.Value >= total.Value)
        {
            var delayDescription = delayWritten ? "Hedging.Delay" : "the handler's default Hedging.Delay";
            sink.ReportComparison(
                Descriptors.RetryScheduleDoesNotFit,
                Comparison.MeetingLocation(handler),
                $"The hedging schedule cannot fit: not even one hedged attempt can start, {delayDescription} ({hedgingDelay.Text}, set at {hedgingDelay.Where}) already uses up {totalDescription} ({total.Text}, set at {total.Where})",
                new[] { hedgingDelay.Source.Syntax.GetLocation(), total.Source.Syntax.GetLocation() },
                null,
                hedgingDelay,
                total);
        }
    }

    /// <summary>
    /// Attempt inside total, and the retry between them, with the handler's defaults for what you did not write — as long as you
    /// wrote something: a handler used with its defaults only is Microsoft's choice, not yours. Reported at the handler.
    /// </summary>
    private static void CheckHandler(IInvocationOperation handler, Dictionary<string, WrittenValue> written, TypeTimeoutModel model, DiagnosticSink sink)
    {
        if (Value(written, "TotalRequestTimeout.Timeout", DefaultTotal, handler, out var totalWritten) is not { IsFinite: true } total
            || Value(written, "AttemptTimeout.Timeout", DefaultAttempt, handler, out var attemptWritten) is not { IsFinite: true } attempt)
        {
            return;
        }

        var totalDescription = totalWritten ? "TotalRequestTimeout" : "the handler's default TotalRequestTimeout";
        var attemptDescription = attemptWritten ? "AttemptTimeout" : "the handler's default AttemptTimeout";
        if (totalWritten || attemptWritten)
        {
            var consequence = $"the total request timeout ends every request after {total.Text}, so the attempt timeout never fires and no retry ever starts";
            if (Comparison.InnerNotShorter(attempt, attemptDescription, total, totalDescription, consequence, sink, handler))
            {
                return;
            }
        }

        var retriesWritten = written.TryGetValue("Retry.MaxRetryAttempts", out var retryCount) && retryCount.Number is not null;
        var retries = retriesWritten ? retryCount.Number!.Value : DefaultRetries;
        var anyRetryPartWritten = retriesWritten || written.ContainsKey("Retry.Delay") || written.ContainsKey("Retry.BackoffType");
        if (retries >= 1 && retries < RetrySchedule.MaxAttemptsLimit && (totalWritten || attemptWritten || anyRetryPartWritten)
            && Schedule(written, (int)retries) is { } schedule)
        {
            var description = retriesWritten ? $"The retry schedule (MaxRetryAttempts = {retries})" : $"The retry schedule (the handler's default of {DefaultRetries} retries)";
            var firstRetryStarts = attempt.Value + schedule.DelayBefore(1);

            // Not even one retry: always. A schedule cut short: only one you chose, and a modest one (retry-until-deadline is an idiom).
            if ((firstRetryStarts >= total.Value || (retriesWritten && retries < HttpClientRegistrations.RetryUntilDeadlineRetries))
                && Comparison.ScheduleDoesNotFit(schedule, attempt, total, description, totalDescription, handler, sink))
            {
                return;
            }
        }

        if (totalWritten || attemptWritten)
        {
            Comparison.MarginTooSmall(attempt, attemptDescription, total, totalDescription, sink, handler);
        }
    }

    /// <summary>
    /// The written value, the handler's documented default when nothing writes it, or null when code writes a value that
    /// cannot be known (a computed timeout is not the default).
    /// </summary>
    private static Duration? Value(Dictionary<string, WrittenValue> written, string path, TimeSpan fallback, IInvocationOperation handler, out bool isWritten)
    {
        isWritten = written.TryGetValue(path, out var value);
        if (!isWritten)
        {
            return new Duration(fallback, handler, isMilliseconds: false);
        }

        return value.Value is Duration known ? known : null;
    }

    private static RetrySchedule? Schedule(Dictionary<string, WrittenValue> written, int retries)
    {
        var delay = written.TryGetValue("Retry.Delay", out var d) && d.Value is Duration { IsFinite: true } writtenDelay ? writtenDelay.Value : DefaultDelay;
        var maxDelay = written.TryGetValue("Retry.MaxDelay", out var m) && m.Value is Duration { IsFinite: true } writtenCap ? writtenCap.Value : (TimeSpan?)null;
        var backoff = (written.TryGetValue("Retry.BackoffType", out var b) ? b.Name : null) switch
        {
            "Linear" => RetryBackoff.Linear,
            "Constant" => RetryBackoff.Constant,
            _ => RetryBackoff.Exponential,
        };
        if (delay > DurationText.MaxValue || (maxDelay is { } cap && cap > DurationText.MaxValue))
        {
            return null;
        }

        return new RetrySchedule(retries + 1, delay, backoff, maxDelay);
    }

    /// <summary>
    /// What the code wrote on this handler's options: its own delegate (a lambda, or a method group in any file) and every
    /// <c>Configure(…)</c> on the pipeline builder it returns; the last write of a member wins.
    /// </summary>
    private static Dictionary<string, WrittenValue> Written(IInvocationOperation handler, List<IInvocationOperation> invocations, TypeTimeoutModel model, INamedTypeSymbol? optionsType)
    {
        var written = new Dictionary<string, WrittenValue>(StringComparer.Ordinal);
        if (optionsType is not null && model.Evaluator.Configuration is { } configuration
            && handler.Arguments.FirstOrDefault(a => a.ArgumentKind == ArgumentKind.Explicit && a.Parameter?.Ordinal > 0 && configuration.IsConfigurationValue(a.Value)) is { } section)
        {
            // The options bound from a section: every member of the handler's options the file sets there.
            foreach (var (path, type) in OptionMembers(optionsType, string.Empty, 0))
            {
                if (configuration.Under(section.Value, path.Replace('.', ':')) is { } value)
                {
                    written[path] = new WrittenValue(DurationEvaluator.Convert(value, type, section.Value, model.Types), section.Value);
                }
            }
        }

        foreach (var (body, options) in ConfigureBodies(handler, invocations, model, optionsType))
        {
            foreach (var assignment in body.DescendantsAndSelf().OfType<ISimpleAssignmentOperation>().OrderBy(a => a.Syntax.SpanStart))
            {
                if (Roots.TryGetMemberPath(DurationEvaluator.SkipConversions(assignment.Target), out var root, out var path)
                    && root is IParameterSymbol parameter && SymbolEqualityComparer.Default.Equals(parameter, options))
                {
                    written[path] = new WrittenValue(model.Evaluator.EvaluateWritten(assignment.Value, assignment.Target.Type), assignment.Value);
                }
            }
        }

        return written;
    }

    /// <summary>The settable members of an options type and its nested options, as dotted paths (<c>Retry.Delay</c>).</summary>
    private static IEnumerable<(string Path, ITypeSymbol Type)> OptionMembers(ITypeSymbol type, string prefix, int depth)
    {
        for (var current = type; current is not null && current.SpecialType != SpecialType.System_Object; current = current.BaseType)
        {
            foreach (var property in current.GetMembers().OfType<IPropertySymbol>())
            {
                if (property.IsStatic || property.IsIndexer || property.DeclaredAccessibility != Accessibility.Public)
                {
                    continue;
                }

                var path = prefix + property.Name;
                var propertyType = property.Type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable ? nullable.TypeArguments[0] : property.Type;
                if (propertyType.TypeKind == TypeKind.Class && propertyType.SpecialType == SpecialType.None && depth < 3 && propertyType.Name.EndsWith("Options", StringComparison.Ordinal))
                {
                    foreach (var nested in OptionMembers(propertyType, path + ".", depth + 1))
                    {
                        yield return nested;
                    }
                }
                else if (property.SetMethod is not null)
                {
                    yield return (path, propertyType);
                }
            }
        }
    }

    private static IEnumerable<(IOperation Body, IParameterSymbol Options)> ConfigureBodies(IInvocationOperation handler, List<IInvocationOperation> invocations, TypeTimeoutModel model, INamedTypeSymbol? optionsType)
    {
        var configurations = new List<IInvocationOperation> { handler };
        for (var next = NextInChain(handler); next is not null && next.TargetMethod.Name == "Configure"; next = NextInChain(next))
        {
            configurations.Add(next);
        }

        if (Roots.OfCreation(handler) is ISymbol stored and (ILocalSymbol or IFieldSymbol or IPropertySymbol))
        {
            configurations.AddRange(invocations.Where(c => c.TargetMethod.Name == "Configure" && Roots.Receiver(c) is { } receiver
                && SymbolEqualityComparer.Default.Equals(Roots.Of(receiver) as ISymbol, stored)));
        }

        foreach (var configuration in configurations)
        {
            foreach (var argument in configuration.Arguments)
            {
                var value = DurationEvaluator.SkipConversions(argument.Value);
                if (value is IDelegateCreationOperation creation)
                {
                    value = creation.Target;
                }

                var (method, body) = value switch
                {
                    IAnonymousFunctionOperation lambda => (lambda.Symbol, (IOperation?)lambda.Body),
                    IMethodReferenceOperation reference => (reference.Method, model.Evaluator.Declarations?.Body(reference.Method)),
                    _ => (null, null),
                };
                var options = method?.Parameters.FirstOrDefault(p => KnownTypes.IsOrDerivesFrom(p.Type, optionsType));
                if (body is not null && options is not null)
                {
                    yield return (body, options);
                }
            }
        }
    }

    /// <summary>
    /// The standard handler resets <c>HttpClient.Timeout</c> to infinite, so only a timeout configured after it for the same
    /// client still applies — and then it wraps the whole handler, total request timeout included.
    /// </summary>
    /// <remarks>
    /// <c>AddStandardResilienceHandler</c> returns an <c>IHttpStandardResiliencePipelineBuilder</c>, not the client builder, so
    /// a later <c>ConfigureHttpClient</c> is written on the client builder held in a local (or a parameter or field), or on a
    /// later <c>AddHttpClient</c> of the same name, whose own <c>configureClient</c> delegate counts too. The handler's options
    /// come from its own delegate or from <c>Configure(o =&gt; …)</c> on the pipeline builder it returns.
    /// </remarks>
    private static void CheckAgainstHttpClientTimeout(IInvocationOperation handler, Dictionary<string, WrittenValue> written, List<IInvocationOperation> invocations, TypeTimeoutModel model, DiagnosticSink sink)
    {
        if (!written.TryGetValue("TotalRequestTimeout.Timeout", out var value) || value.Value is not Duration { IsFinite: true } total)
        {
            return;
        }

        foreach (var client in LaterClientConfigurations(handler, invocations, model))
        {
            if (model.GetDuration(client, "Timeout") is not { IsFinite: true } clientTimeout)
            {
                continue;
            }

            const string outerDescription = "HttpClient.Timeout configured after the standard handler";
            var consequence = $"HttpClient cancels every request after {clientTimeout.Text}, before the handler's total timeout and its retries can act";
            if (!Comparison.InnerNotShorter(total, "TotalRequestTimeout", clientTimeout, outerDescription, consequence, sink))
            {
                Comparison.MarginTooSmall(total, "TotalRequestTimeout", clientTimeout, outerDescription, sink);
            }
        }
    }

    /// <summary>
    /// The <c>HttpClient</c> parameters of the client configurations that run after this handler was added, in the same body:
    /// the rest of the fluent chain, <c>ConfigureHttpClient</c> on the same client builder, and a later <c>AddHttpClient</c>
    /// of the same name (its <c>configureClient</c> delegate, and any <c>ConfigureHttpClient</c> chained on it).
    /// </summary>
    private static IEnumerable<IParameterSymbol> LaterClientConfigurations(IInvocationOperation handler, List<IInvocationOperation> invocations, TypeTimeoutModel model)
    {
        var found = new List<IParameterSymbol>();
        for (var next = NextInChain(handler); next is not null; next = NextInChain(next))
        {
            if (next.TargetMethod.Name == "ConfigureHttpClient" && ClientParameter(next, model) is { } chained)
            {
                found.Add(chained);
            }
        }

        if (Roots.Receiver(handler) is not { } builder)
        {
            return found;
        }

        var client = ClientOf(builder);
        var body = BodyOf(handler);
        foreach (var later in invocations)
        {
            if (later.Syntax.SyntaxTree != handler.Syntax.SyntaxTree || later.Syntax.SpanStart < handler.Syntax.Span.End || BodyOf(later) != body)
            {
                continue;
            }

            var sameClient = later.TargetMethod.Name switch
            {
                "ConfigureHttpClient" => Roots.Receiver(later) is { } receiver && SameClient(client, ClientOf(receiver)),
                "AddHttpClient" => client.Name is not null && client.Name == ClientName(later),
                _ => false,
            };
            if (sameClient && ClientParameter(later, model) is { } parameter)
            {
                found.Add(parameter);
            }
        }

        return found.Distinct<IParameterSymbol>(SymbolEqualityComparer.Default);
    }

    /// <summary>Which client a client-builder expression configures: the <c>AddHttpClient</c> name its chain starts from, and the symbol holding the builder.</summary>
    private static (string? Name, ISymbol? Holder) ClientOf(IOperation builder)
    {
        var current = DurationEvaluator.SkipConversions(builder);
        for (var depth = 0; depth < 16; depth++)
        {
            if (current is IInvocationOperation call)
            {
                if (call.TargetMethod.Name == "AddHttpClient")
                {
                    return (ClientName(call), null);
                }

                if (Roots.Receiver(call) is not { } inner)
                {
                    break;
                }

                current = DurationEvaluator.SkipConversions(inner);
                continue;
            }

            if (current is ILocalReferenceOperation local)
            {
                var name = DurationEvaluator.SingleAssignedValue(local.Local, current) is { } value ? ClientOf(value).Name : null;
                return (name, local.Local);
            }

            return (null, Roots.Of(current) as ISymbol);
        }

        return (null, null);
    }

    private static bool SameClient((string? Name, ISymbol? Holder) left, (string? Name, ISymbol? Holder) right) =>
        (left.Holder is not null && SymbolEqualityComparer.Default.Equals(left.Holder, right.Holder))
        || (left.Name is not null && left.Name == right.Name);

    /// <summary>The constant name given to <c>AddHttpClient(name, …)</c>.</summary>
    internal static string? ClientName(IInvocationOperation addHttpClient)
    {
        foreach (var argument in addHttpClient.Arguments)
        {
            if (argument.Parameter is { Name: "name" } && argument.Value.ConstantValue is { HasValue: true, Value: string name })
            {
                return name;
            }
        }

        return null;
    }

    private static IParameterSymbol? ClientParameter(IInvocationOperation invocation, TypeTimeoutModel model) =>
        LambdaParameter(invocation, parameter => KnownTypes.IsOrDerivesFrom(parameter.Type, model.Types.HttpClient));

    /// <summary>The parameter of a delegate argument (<c>o =&gt; …</c>, <c>(o, sp) =&gt; …</c>) that is the object being configured.</summary>
    private static IParameterSymbol? LambdaParameter(IInvocationOperation invocation, Func<IParameterSymbol, bool> configured)
    {
        foreach (var argument in invocation.Arguments)
        {
            var value = DurationEvaluator.SkipConversions(argument.Value);
            if (value is IDelegateCreationOperation creation)
            {
                value = creation.Target;
            }

            if (value is IAnonymousFunctionOperation lambda)
            {
                foreach (var parameter in lambda.Symbol.Parameters)
                {
                    if (configured(parameter))
                    {
                        return parameter;
                    }
                }
            }
        }

        return null;
    }

    /// <summary>The syntax of the outermost operation around this one, so that "after" stays within one body.</summary>
    private static SyntaxNode BodyOf(IOperation operation)
    {
        var current = operation;
        while (current.Parent is not null)
        {
            current = current.Parent;
        }

        return current.Syntax;
    }

    /// <summary>The call made on this call's result in a fluent chain: <c>x.AddStandardResilienceHandler(…).Configure(…)</c>.</summary>
    internal static IInvocationOperation? NextInChain(IInvocationOperation invocation)
    {
        IOperation current = invocation;
        while (current.Parent is IConversionOperation conversion)
        {
            current = conversion;
        }

        return current.Parent switch
        {
            IArgumentOperation { Parent: IInvocationOperation next } argument when next.TargetMethod.IsExtensionMethod && next.Arguments.Length > 0 && next.Arguments[0] == argument => next,
            IInvocationOperation next when next.Instance == current => next,
            _ => null,
        };
    }
}
