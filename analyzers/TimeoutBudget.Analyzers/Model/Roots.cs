using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Names the object an expression denotes: the local, parameter, field or property that holds it, or, for an object that is
/// never stored, the operation that creates it. Member writes are recorded against that root with a dotted path.
/// </summary>
internal static class Roots
{
    public static object? Of(IOperation? operation)
    {
        if (operation is null)
        {
            return null;
        }

        operation = DurationEvaluator.SkipConversions(operation);
        return operation switch
        {
            ILocalReferenceOperation local => local.Local,
            IParameterReferenceOperation parameter => parameter.Parameter,
            IFieldReferenceOperation field when IsThisOrStatic(field.Instance) => field.Field,
            IPropertyReferenceOperation property when property.Arguments.Length == 0 && IsThisOrStatic(property.Instance) => property.Property,
            IObjectCreationOperation or IInvocationOperation => OfCreation(operation),
            _ => null,
        };
    }

    /// <summary>Where a newly created object is stored, or the creation itself when it is not stored.</summary>
    public static object OfCreation(IOperation creation)
    {
        var current = creation;
        while (current.Parent is IConversionOperation or IAwaitOperation)
        {
            current = current.Parent;
        }

        switch (current.Parent)
        {
            case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation declarator }:
                return declarator.Symbol;
            case IFieldInitializerOperation { InitializedFields.Length: > 0 } field:
                return field.InitializedFields[0];
            case IPropertyInitializerOperation { InitializedProperties.Length: > 0 } property:
                return property.InitializedProperties[0];
            case ISimpleAssignmentOperation assignment when assignment.Value == current && Of(assignment.Target) is ISymbol target:
                return target;
            default:
                return creation;
        }
    }

    public static ITypeSymbol? TypeOf(object root) => root switch
    {
        ILocalSymbol local => local.Type,
        IParameterSymbol parameter => parameter.Type,
        IFieldSymbol field => field.Type,
        IPropertySymbol property => property.Type,
        IOperation operation => operation.Type,
        _ => null,
    };

    /// <summary>The root and dotted member path a write goes to: <c>options.Retry.MaxRetryAttempts</c>, or an object initializer's member.</summary>
    public static bool TryGetMemberPath(IOperation target, out object root, out string path)
    {
        root = null!;
        path = string.Empty;
        string name;
        IOperation? instance;
        switch (target)
        {
            case IPropertyReferenceOperation { Arguments.Length: 0 } property:
                name = property.Property.Name;
                instance = property.Instance;
                break;
            case IFieldReferenceOperation field:
                name = field.Field.Name;
                instance = field.Instance;
                break;
            default:
                return false;
        }

        if (instance is null)
        {
            return false;
        }

        instance = DurationEvaluator.SkipConversions(instance);
        if (instance is IInstanceReferenceOperation { ReferenceKind: InstanceReferenceKind.ImplicitReceiver })
        {
            var initializer = instance.Parent;
            while (initializer is not null and not IObjectOrCollectionInitializerOperation)
            {
                initializer = initializer.Parent;
            }

            switch (initializer?.Parent)
            {
                case IObjectCreationOperation creation:
                    root = OfCreation(creation);
                    path = name;
                    return true;
                case IMemberInitializerOperation member when TryGetMemberPath(member.InitializedMember, out root, out var outer):
                    path = outer + "." + name;
                    return true;
                default:
                    return false;
            }
        }

        if (instance is IInstanceReferenceOperation)
        {
            return false;
        }

        if (Of(instance) is { } direct && instance is not IInvocationOperation and not IObjectCreationOperation)
        {
            root = direct;
            path = name;
            return true;
        }

        if (TryGetMemberPath(instance, out root, out var prefix))
        {
            path = prefix + "." + name;
            return true;
        }

        return false;
    }

    /// <summary>What a call is made on: its instance, or the <c>this</c> argument of an extension method.</summary>
    public static IOperation? Receiver(IInvocationOperation invocation) =>
        invocation.Instance ?? (invocation.TargetMethod.IsExtensionMethod && invocation.Arguments.Length > 0 ? invocation.Arguments[0].Value : null);

    private static bool IsThisOrStatic(IOperation? instance) =>
        instance is null || instance is IInstanceReferenceOperation { ReferenceKind: InstanceReferenceKind.ContainingTypeInstance };
}
