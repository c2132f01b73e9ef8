--- @include "includes/a"
return 1
