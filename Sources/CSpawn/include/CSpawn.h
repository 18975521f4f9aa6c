#ifndef VANGNET_CSPAWN_H
#define VANGNET_CSPAWN_H

#include <spawn.h>

// Two glibc calls that its headers declare only under _GNU_SOURCE, which Swift's Glibc module is
// built without.

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34 and later): the child closes every
/// descriptor from `from` up, so it inherits nothing but the standard streams it was given.
int vangnet_spawn_closefrom(posix_spawn_file_actions_t *actions, int from);

/// pipe2(fds, O_CLOEXEC): a pipe whose ends no child started by exec inherits by accident.
int vangnet_pipe_cloexec(int fds[2]);

#endif
