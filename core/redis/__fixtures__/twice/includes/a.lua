local function a() end
