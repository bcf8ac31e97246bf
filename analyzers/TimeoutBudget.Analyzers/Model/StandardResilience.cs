using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>Microsoft.Extensions.Http.Resilience's standard handler: the attempt timeout sits inside the total request timeout, with the retry between them.</summary>
internal static class StandardResilience
{
    public static void Check(TypeTimeoutModel model, DiagnosticSink sink)
    {
        CheckAgainstHttpClientTimeout(model, sink);
        foreach (var options in model.RootsOfType(model.Types.HttpStandardResilienceOptions).ToList())
        {
            // Both must be written: a default the user did not write is not reported as if they had.
            if (model.GetDuration(options, "TotalRequestTimeout.Timeout") is not { IsFinite: true } total
                || model.GetDuration(options, "AttemptTimeout.Timeout") is not { IsFinite: true } attempt)
            {
                continue;
            }

            var name = (options as ISymbol)?.Name ?? "options";
            var innerDescription = $"{name}.AttemptTimeout";
            var outerDescription = $"{name}.TotalRequestTimeout";
            var consequence = $"the total request timeout ends every request after {total.Text}, so the attempt timeout never fires and no retry ever starts";
            if (Comparison.InnerNotShorter(attempt, innerDescription, total, outerDescription, consequence, sink))
            {
                continue;
            }

            if (model.Get(options, "Retry.MaxRetryAttempts") is { Number: { } retries } written && retries >= 1 && retries < RetrySchedule.MaxAttemptsLimit
                && PollyPipelines.Schedule(model, options, "Retry.", (int)retries, exponentialByDefault: true) is { } schedule
                && Comparison.ScheduleDoesNotFit(schedule, attempt, total, $"The retry schedule of {name}.Retry (MaxRetryAttempts = {retries})", outerDescription, written.Source, sink))
            {
                continue;
            }

            Comparison.MarginTooSmall(attempt, innerDescription, total, outerDescription, sink);
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
    private static void CheckAgainstHttpClientTimeout(TypeTimeoutModel model, DiagnosticSink sink)
    {
        var invocations = model.Invocations.ToList();
        foreach (var invocation in invocations)
        {
            if (invocation.TargetMethod.Name != "AddStandardResilienceHandler")
            {
                continue;
            }

            foreach (var options in HandlerOptions(invocation, invocations, model))
            {
                if (model.GetDuration(options, "TotalRequestTimeout.Timeout") is not { IsFinite: true } total)
                {
                    continue;
                }

                foreach (var client in LaterClientConfigurations(invocation, invocations, model))
                {
                    if (model.GetDuration(client, "Timeout") is not { IsFinite: true } clientTimeout)
                    {
                        continue;
                    }

                    var consequence = $"HttpClient cancels every request after {clientTimeout.Text}, before the handler's total timeout and its retries can act";
                    if (!Comparison.InnerNotShorter(total, $"{options.Name}.TotalRequestTimeout", clientTimeout, "HttpClient.Timeout configured after the standard handler", consequence, sink))
                    {
                        Comparison.MarginTooSmall(total, $"{options.Name}.TotalRequestTimeout", clientTimeout, "HttpClient.Timeout configured after the standard handler", sink);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The options parameters that configure this handler: its own delegate's, and those of every <c>Configure(…)</c> on the
    /// pipeline builder it returns, chained or through the local, field or property it is stored in.
    /// </summary>
    private static IEnumerable<IParameterSymbol> HandlerOptions(IInvocationOperation handler, List<IInvocationOperation> invocations, TypeTimeoutModel model)
    {
        var found = new List<IParameterSymbol>();
        if (OptionsParameter(handler, model) is { } own)
        {
            found.Add(own);
        }

        for (var next = NextInChain(handler); next is not null && next.TargetMethod.Name == "Configure"; next = NextInChain(next))
        {
            if (OptionsParameter(next, model) is { } chained)
            {
                found.Add(chained);
            }
        }

        if (Roots.OfCreation(handler) is ISymbol stored and (ILocalSymbol or IFieldSymbol or IPropertySymbol))
        {
            foreach (var configure in invocations)
            {
                if (configure.TargetMethod.Name == "Configure" && Receiver(configure) is { } receiver
                    && SymbolEqualityComparer.Default.Equals(Roots.Of(receiver) as ISymbol, stored)
                    && OptionsParameter(configure, model) is { } held)
                {
                    found.Add(held);
                }
            }
        }

        return found.Distinct<IParameterSymbol>(SymbolEqualityComparer.Default);
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

        if (Receiver(handler) is not { } builder)
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
                "ConfigureHttpClient" => Receiver(later) is { } receiver && SameClient(client, ClientOf(receiver)),
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

                if (Receiver(call) is not { } inner)
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
    private static string? ClientName(IInvocationOperation addHttpClient)
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

    private static IParameterSymbol? OptionsParameter(IInvocationOperation invocation, TypeTimeoutModel model) =>
        LambdaParameter(invocation, parameter => KnownTypes.IsOrDerivesFrom(parameter.Type, model.Types.HttpStandardResilienceOptions));

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

    private static IOperation? Receiver(IInvocationOperation invocation) =>
        invocation.Instance ?? (invocation.TargetMethod.IsExtensionMethod && invocation.Arguments.Length > 0 ? invocation.Arguments[0].Value : null);

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
    private static IInvocationOperation? NextInChain(IInvocationOperation invocation)
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
