--- @include "includes/a"
--- @include "includes/a"
return 1
