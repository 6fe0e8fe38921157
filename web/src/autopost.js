// The signed deep-linking response goes back to the platform at once, as LTI prescribes.
document.getElementById("return").submit();
