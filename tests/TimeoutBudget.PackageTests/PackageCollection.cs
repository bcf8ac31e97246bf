namespace TimeoutBudget.PackageTests;

/// <summary>
/// One <see cref="PackageFixture"/> for every test class that consumes the package. As a class fixture it was built once
/// per class, in parallel: two <c>dotnet pack</c> runs of the same project raced on its <c>obj/project.assets.json</c>.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PackageCollection : ICollectionFixture<PackageFixture>
{
    public const string Name = "Packed package";
}
