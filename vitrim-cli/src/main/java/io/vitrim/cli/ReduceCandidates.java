package io.vitrim.cli;

import io.vitrim.reduce.Methods;

import java.util.Iterator;

/** Shell-completion candidates of a --reduce value: the registered methods' names. */
final class ReduceCandidates implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
        return Methods.methods().keySet().iterator();
    }
}
