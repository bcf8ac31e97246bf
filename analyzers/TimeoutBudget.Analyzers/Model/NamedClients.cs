using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// The <c>HttpClient.Timeout</c> a named client is registered with anywhere in the compilation (<c>AddHttpClient("x", c =&gt;
/// c.Timeout = …)</c> and <c>ConfigureHttpClient</c> chained on it), for a client created with
/// <c>IHttpClientFactory.CreateClient("x")</c> in another place. Registrations that disagree give no value.
/// </summary>
internal sealed class NamedClients
{
    private readonly Declarations _declarations;
    private readonly DurationEvaluator _evaluator;
    private readonly ConcurrentDictionary<string, Duration?> _timeouts = new(StringComparer.Ordinal);

    public NamedClients(Declarations declarations, DurationEvaluator evaluator)
    {
        _declarations = declarations;
        _evaluator = evaluator;
    }

    /// <summary>The registered timeout of the client a <c>factory.CreateClient("x")</c> call creates.</summary>
    public Duration? TimeoutOf(IInvocationOperation createClient) =>
        createClient.TargetMethod is { Name: "CreateClient", ContainingType.Name: "IHttpClientFactory" or "HttpClientFactoryExtensions" }
        && createClient.Arguments.FirstOrDefault(a => a.Parameter?.Name == "name")?.Value.ConstantValue.Value is string name
            ? _timeouts.GetOrAdd(name, Find)
            : null;

    private Duration? Find(string name)
    {
        Duration? found = null;
        foreach (var (registration, _) in _declarations.InvocationsNamed("AddHttpClient", "AddHttpClient"))
        {
            if (StandardResilience.ClientName(registration) != name)
            {
                continue;
            }

            var configurations = new List<IInvocationOperation> { registration };
            for (var next = StandardResilience.NextInChain(registration); next is not null; next = StandardResilience.NextInChain(next))
            {
                if (next.TargetMethod.Name == "ConfigureHttpClient")
                {
                    configurations.Add(next);
                }
            }

            foreach (var configuration in configurations)
            {
                foreach (var timeout in Timeouts(configuration))
                {
                    if (found is { } earlier && earlier.Value != timeout.Value)
                    {
                        return null;
                    }

                    found ??= timeout;
                }
            }
        }

        return found;
    }

    /// <summary>What the configureClient delegate assigns to the client's <c>Timeout</c>.</summary>
    private IEnumerable<Duration> Timeouts(IInvocationOperation configuration)
    {
        foreach (var argument in configuration.Arguments)
        {
            var value = DurationEvaluator.SkipConversions(argument.Value);
            if (value is IDelegateCreationOperation { Target: IAnonymousFunctionOperation lambda }
                && lambda.Symbol.Parameters.FirstOrDefault(p => p.Type.Name == "HttpClient") is { } client)
            {
                foreach (var assignment in lambda.Body.Descendants().OfType<ISimpleAssignmentOperation>())
                {
                    if (assignment.Target is IPropertyReferenceOperation { Property.Name: "Timeout", Instance: IParameterReferenceOperation target }
                        && SymbolEqualityComparer.Default.Equals(target.Parameter, client)
                        && _evaluator.EvaluateTimeSpan(assignment.Value) is { } timeout)
                    {
                        yield return timeout;
                    }
                }
            }
        }
    }
}
