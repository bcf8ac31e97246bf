using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>The values passed to a call, with a <c>params</c> array (<c>WhenAny(a, b)</c>, <c>CreateLinkedTokenSource(x, y)</c>) opened up.</summary>
internal static class ArgumentValues
{
    public static IEnumerable<IOperation> Of(IInvocationOperation invocation)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (argument.Value is IArrayCreationOperation { Initializer: { } elements })
            {
                foreach (var element in elements.ElementValues)
                {
                    yield return element;
                }
            }
            else
            {
                yield return argument.Value;
            }
        }
    }
}
