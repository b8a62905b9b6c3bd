/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VMM_VM_API_H
#define BMVM_VMM_VM_API_H

struct vm;

/* Start the control API when --api-socket asks for it: 0, or -1 (reported). */
int vm_api_start(struct vm *vm);
/* Stop it and remove its socket (before the devices go). */
void vm_api_stop(struct vm *vm);

#endif
